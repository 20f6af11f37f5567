#!/usr/bin/env node
// tools/tfjs-reference/reference.mjs — the reference for the C detector.
//
// Runs centernet.json/.bin from disk on TF.js 4.22.0 (wasm backend, the
// XNNPACK SIMD build shipped inside @tensorflow/tfjs-backend-wasm; nothing is
// downloaded) and does exactly what @vladmandic/human 3.3.6
// src/object/centernet.ts does: resizeBilinear to 512x512 (alignCorners and
// halfPixelCenters false), execute 'tower_0/detections', class-agnostic
// tf.image.nonMaxSuppressionAsync(maxDetected 10, iou 0.4, minConfidence),
// boxes scaled back with Math.trunc, scores truncated to 2 decimals.
//
// Usage:
//   node reference.mjs IMAGE [--model-dir DIR] [--threshold T] [--backend wasm|cpu]
//                      [--raw-out PREFIX] [--runs N] [--warmup W] [--time-only]
// IMAGE is a .ppm (binary P6; `ccc image ppm` writes the exact pixels the C
// decoder produced, which is what tests compare), a .png (pngjs) or a .jpg
// (jpeg-js; a pure-JS decoder whose pixels can differ slightly from
// libjpeg-turbo's, so prefer PPM for comparisons).
// Prints one JSON object: detections, cat count, inference time (median and
// p95 over --runs after --warmup). --raw-out writes PREFIX.input.f32 (the
// resized 512x512x3 input), PREFIX.detections.f32, PREFIX.keypoints.f32 and
// PREFIX.wh.f32 (float32 little-endian).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

// human src/object/labels.ts (0-based index here).
const LABELS = ['person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck',
  'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat',
  'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
  'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
  'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
  'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
  'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
  'teddy bear', 'hair drier', 'toothbrush'];
const CAT = 15;

function parseArgs(argv) {
  const a = { modelDir: process.env.CCC_DATA_DIR ? path.join(process.env.CCC_DATA_DIR, 'models')
    : path.join(ROOT, 'data', 'models'),
  threshold: 0.2, backend: 'wasm', runs: 1, warmup: 0, timeOnly: false, rawOut: null, image: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${k} needs a value`); return argv[++i]; };
    if (k === '--model-dir') a.modelDir = next();
    else if (k === '--threshold') a.threshold = Number(next());
    else if (k === '--backend') a.backend = next();
    else if (k === '--runs') a.runs = Number(next());
    else if (k === '--warmup') a.warmup = Number(next());
    else if (k === '--raw-out') a.rawOut = next();
    else if (k === '--time-only') a.timeOnly = true;
    else if (k.startsWith('--')) throw new Error(`unknown option ${k}`);
    else if (a.image) throw new Error('one image only');
    else a.image = k;
  }
  if (!a.image) throw new Error('usage: reference.mjs IMAGE [options]');
  if (!(a.runs >= 1)) throw new Error('--runs must be >= 1');
  return a;
}

// ---- image decoding: RGB8, packed -------------------------------------------
function readPpm(buf) {
  // P6 <ws> width <ws> height <ws> maxval <one ws> data (no comments: ccc writes none)
  const head = buf.subarray(0, 64).toString('latin1');
  const m = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(head);
  if (!m || Number(m[3]) !== 255) throw new Error('not a binary 8-bit PPM');
  const width = Number(m[1]); const height = Number(m[2]);
  const data = buf.subarray(m[0].length, m[0].length + width * height * 3);
  if (data.length !== width * height * 3) throw new Error('truncated PPM');
  return { width, height, rgb: data };
}

function rgbaToRgb(rgba, width, height) {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height * 4; i += 4, j += 3) {
    rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2]; // alpha dropped
  }
  return rgb;
}

function decodeImage(file) {
  const buf = fs.readFileSync(file);
  if (buf[0] === 0x50 && buf[1] === 0x36) return readPpm(buf);
  if (buf[0] === 0x89 && buf[1] === 0x50) {
    const png = PNG.sync.read(buf);
    return { width: png.width, height: png.height, rgb: rgbaToRgb(png.data, png.width, png.height) };
  }
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
    return { width: j.width, height: j.height, rgb: rgbaToRgb(j.data, j.width, j.height) };
  }
  throw new Error('unknown image format');
}

// ---- model from disk ---------------------------------------------------------
async function loadModel(dir) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'centernet.json'), 'utf8'));
  const specs = []; const parts = [];
  for (const group of json.weightsManifest) {
    for (const w of group.weights) specs.push(w);
    for (const p of group.paths) parts.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(parts);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = {
    load: async () => ({
      modelTopology: json.modelTopology, format: json.format, generatedBy: json.generatedBy,
      convertedBy: json.convertedBy, signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata, weightSpecs: specs, weightData,
    }),
  };
  return tf.loadGraphModel(handler);
}

// ---- human centernet.ts process() ----------------------------------------------
async function postprocess(res, W, H, threshold, inputSize) {
  const detections = await res.array();
  const squeeze = tf.squeeze(res);
  const arr = tf.split(squeeze, 6, 1); // x1, y1, x2, y2, score, class
  const stack = tf.stack([arr[1], arr[0], arr[3], arr[2]], 1); // reorder dims as tf.nms expects y, x
  const boxes = tf.squeeze(stack);
  const scores = tf.squeeze(arr[4]);
  const nmsT = await tf.image.nonMaxSuppressionAsync(boxes, scores, 10, 0.4, threshold);
  const nms = await nmsT.data();
  tf.dispose([squeeze, ...arr, stack, boxes, scores, nmsT]);
  const out = [];
  for (const id of Array.from(nms)) {
    const row = detections[0][id];
    const classVal = row[5];
    if (Number.isNaN(classVal)) continue;
    const x = row[0] / inputSize; const y = row[1] / inputSize;
    const boxRaw = [x, y, row[2] / inputSize - x, row[3] / inputSize - y];
    const box = [Math.trunc(boxRaw[0] * W), Math.trunc(boxRaw[1] * H),
      Math.trunc(boxRaw[2] * W), Math.trunc(boxRaw[3] * H)];
    out.push({ class: classVal, label: LABELS[classVal], score: row[4],
      score2: Math.trunc(100 * row[4]) / 100, row: id, box,
      x1: x * W, y1: y * H, x2: row[2] / inputSize * W, y2: row[3] / inputSize * H });
  }
  return out;
}

function quantiles(ms) {
  const v = [...ms].sort((a, b) => a - b);
  const n = v.length;
  const median = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  const p95 = v[Math.max(1, Math.ceil(0.95 * n)) - 1];
  return { median, p95 };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.backend === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    setWasmPaths(path.join(HERE, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + path.sep);
  }
  await tf.setBackend(a.backend);
  await tf.ready();
  const model = await loadModel(a.modelDir);
  // human: signature.inputs[0].tensorShape.dim[2].size (a string in the JSON)
  const inputSize = Number(Object.values(model.modelSignature.inputs)[0].tensorShape.dim[2].size);
  const img = decodeImage(a.image);
  // human: image tensor [1, H, W, 3] float32 0..255, then resizeBilinear.
  const input = tf.tensor(Float32Array.from(img.rgb), [1, img.height, img.width, 3], 'float32');
  const resize = tf.image.resizeBilinear(input, [inputSize, inputSize]);

  const times = [];
  let res = null;
  for (let i = 0; i < a.warmup + a.runs; i++) {
    if (res) res.dispose();
    const t0 = performance.now();
    res = model.execute(resize, ['tower_0/detections']);
    await res.data();
    const t1 = performance.now();
    if (i >= a.warmup) times.push(t1 - t0);
  }
  const q = quantiles(times);
  const result = { file: a.image, backend: tf.getBackend(), width: img.width, height: img.height,
    threshold: a.threshold, inference_ms_median: q.median, inference_ms_p95: q.p95, runs: a.runs };
  if (!a.timeOnly) {
    const dets = await postprocess(res, img.width, img.height, a.threshold, inputSize);
    result.cats = dets.filter((d) => d.class === CAT).length;
    result.max_cat_score = Math.max(0, ...dets.filter((d) => d.class === CAT).map((d) => d.score));
    result.detections = dets;
  }
  if (a.rawOut) {
    const outs = model.execute(resize, ['tower_0/detections', 'tower_0/keypoints', 'tower_0/wh']);
    const input512 = await resize.data();
    fs.writeFileSync(`${a.rawOut}.input.f32`, Buffer.from(input512.buffer, input512.byteOffset, input512.byteLength));
    const names = ['detections', 'keypoints', 'wh'];
    for (let i = 0; i < 3; i++) {
      const d = await outs[i].data();
      fs.writeFileSync(`${a.rawOut}.${names[i]}.f32`, Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    }
    tf.dispose(outs);
  }
  if (res) res.dispose();
  tf.dispose([input, resize]);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e) => { process.stderr.write(`reference.mjs: ${e.message}\n`); process.exit(1); });
