#!/usr/bin/env node
// tools/tfjs-reference/compare.mjs — compare one image's C result with the
// TF.js reference (used by tests/detect_reference.sh).
//
//   node compare.mjs C.json REF.json C_PREFIX REF_PREFIX
//
// C.json is `ccc detect --json` output (one image), REF.json is
// reference.mjs output; the prefixes name the raw float32 tensors
// (PREFIX.detections.f32, .keypoints.f32, .wh.f32) both wrote.
// Checks (tolerances from docs/model-notes.md §5, where TF.js's own wasm and cpu
// backends differ by up to 1.1e-3 px on detections and 1.4e-6 on keypoints):
//   - the resized 512x512x3 input tensor is bit-identical (our float32
//     legacy ResizeBilinear vs tf.image.resizeBilinear on the wasm backend);
//   - identical cat count and the same kept boxes (class, NMS order),
//     scores within 1e-4 relative, box corners within 0.01 px + 1e-4 rel,
//     human's integer boxes within 1 px (truncation near an integer);
//   - raw detections: |c - r| <= 5e-3 + 1e-4 |r| element-wise, rows matched
//     as a set where TopK order swaps rows of (nearly) equal score;
//   - keypoints: |c - r| <= 1e-5 + 1e-4 |r|;
//   - wh: |c - r| <= 5e-3 + 3e-4 |r|. wh is 16 x a conv output, so rounding
//     is amplified: on rocket.jpg TF.js's own cpu and wasm backends differ by
//     0.0186 (values ~70-120), more than 1e-4 relative; ours differs from
//     wasm by 0.0116 there.
// Exit status 0 when everything holds; prints every failure otherwise.
import fs from 'node:fs';

const [cJson, rJson, cPrefix, rPrefix] = process.argv.slice(2);
if (!rPrefix) {
  process.stderr.write('usage: compare.mjs C.json REF.json C_PREFIX REF_PREFIX\n');
  process.exit(2);
}
const failures = [];
const fail = (msg) => failures.push(msg);
const close = (a, b, atol, rtol) => Math.abs(a - b) <= atol + rtol * Math.abs(b);

function readF32(path) {
  if (!fs.existsSync(path)) { fail(`missing ${path}`); return null; }
  const b = fs.readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

// ---- results --------------------------------------------------------------------
const cAll = JSON.parse(fs.readFileSync(cJson, 'utf8'));
const c = cAll.images ? cAll.images[0] : cAll;
const r = JSON.parse(fs.readFileSync(rJson, 'utf8'));
if (c.width !== r.width || c.height !== r.height) fail(`image size ${c.width}x${c.height} vs ${r.width}x${r.height}`);
if (c.cats !== r.cats) fail(`cat count ${c.cats} vs reference ${r.cats}`);
if (c.detections.length !== r.detections.length) {
  fail(`kept boxes ${c.detections.length} vs reference ${r.detections.length}`);
} else {
  c.detections.forEach((d, i) => {
    const e = r.detections[i];
    if (d.class !== e.class) fail(`box ${i}: class ${d.class} vs ${e.class}`);
    if (!close(d.score, e.score, 1e-6, 1e-4)) fail(`box ${i}: score ${d.score} vs ${e.score}`);
    for (const k of ['x1', 'y1', 'x2', 'y2']) {
      if (!close(d[k], e[k], 0.01, 1e-4)) fail(`box ${i}: ${k} ${d[k]} vs ${e[k]}`);
    }
    d.box.forEach((v, j) => { if (Math.abs(v - e.box[j]) > 1) fail(`box ${i}: box[${j}] ${v} vs ${e.box[j]}`); });
  });
}

// ---- raw tensors ------------------------------------------------------------------
const ci = readF32(`${cPrefix}.input.f32`);
const ri = readF32(`${rPrefix}.input.f32`);
if (ci && ri) {
  if (ci.length !== ri.length || ci.length !== 512 * 512 * 3) fail(`input sizes ${ci.length} vs ${ri.length}`);
  let differ = 0;
  for (let i = 0; i < ci.length; i++) if (!Object.is(ci[i], ri[i])) differ++;
  if (differ) fail(`resized input: ${differ} values not bit-identical`);
}

const cd = readF32(`${cPrefix}.detections.f32`);
const rd = readF32(`${rPrefix}.detections.f32`);
let detMax = 0;
if (cd && rd) {
  if (cd.length !== rd.length || cd.length !== 600) fail(`detections sizes ${cd.length} vs ${rd.length}`);
  const rows = cd.length / 6;
  const rowClose = (i, j) => {
    for (let k = 0; k < 6; k++) {
      const atol = k === 4 ? 1e-6 : 5e-3;
      if (!close(cd[i * 6 + k], rd[j * 6 + k], atol, 1e-4)) return false;
    }
    return true;
  };
  const used = new Array(rows).fill(false);
  for (let i = 0; i < rows; i++) {
    let j = -1;
    if (rowClose(i, i) && !used[i]) j = i;
    else {
      // TopK may order rows of (nearly) equal score differently: match as a set.
      for (let k = 0; k < rows && j < 0; k++) {
        if (!used[k] && Math.abs(rd[k * 6 + 4] - cd[i * 6 + 4]) <= 1e-5 && rowClose(i, k)) j = k;
      }
    }
    if (j < 0) { fail(`detections row ${i} [${Array.from(cd.slice(i * 6, i * 6 + 6))}] has no match`); continue; }
    used[j] = true;
    for (let k = 0; k < 6; k++) detMax = Math.max(detMax, Math.abs(cd[i * 6 + k] - rd[j * 6 + k]));
  }
}

function compareTensor(name, atol, rtol) {
  const a = readF32(`${cPrefix}.${name}.f32`);
  const b = readF32(`${rPrefix}.${name}.f32`);
  if (!a || !b) return NaN;
  if (a.length !== b.length) { fail(`${name}: ${a.length} vs ${b.length} values`); return NaN; }
  let max = 0; let bad = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= atol + rtol * Math.abs(b[i]))) bad++;
    if (d > max || Number.isNaN(d)) max = Number.isNaN(d) ? Infinity : d;
  }
  if (bad) fail(`${name}: ${bad} values outside tolerance (max |d| ${max})`);
  return max;
}
const kpMax = compareTensor('keypoints', 1e-5, 1e-4);
const whMax = compareTensor('wh', 5e-3, 3e-4);

const name = c.file;
if (failures.length) {
  process.stdout.write(`FAIL ${name}\n${failures.map((f) => `  ${f}\n`).join('')}`);
  process.exit(1);
}
process.stdout.write(`ok   ${name}: ${c.cats} cat(s), ${c.detections.length} box(es); input bit-identical; max |d| detections ${detMax.toExponential(2)}, keypoints ${kpMax.toExponential(2)}, wh ${whMax.toExponential(2)}\n`);
