// app.js — the page: pick a photo, check it locally, run the job
// (client.js), show the steps, the count, the photo with its boxes and the
// receipt. The photo is read and drawn only inside this page; what leaves
// it is the OHTTP ciphertext, after every check of client.js has passed.

import { SENT_AFTER, STEPS, runJob } from './client.js';
import { ANCHORS, checkAnchor, clearPinned, loadAnchors, normalisePcr0, readPinned, writePinned } from './trust.js';
import { RECEIPT_KEYS } from './signed.js';
import { toHex } from './bytes.js';

const MAX_BYTES = 16 * 1024 * 1024, MIN_SIDE = 32, MAX_SIDE = 8192, MAX_PIXELS = 40000000;
const $ = (id) => document.getElementById(id);
const store = window.localStorage;
let anchors = { source: 'none' };
let anchorError = '';
let busy = false;
let last = null;

// ---- trust anchors ------------------------------------------------------------

async function refreshAnchors() {
  anchorError = '';
  try {
    anchors = await loadAnchors(store);
  } catch (e) {
    anchors = { source: 'none' };
    anchorError = e.message;
  }
  const badge = $('anchor-badge');
  if (anchors.source === 'none') {
    badge.textContent = anchorError ? 'trust anchors unusable' : 'no trust anchors pinned';
    badge.className = 'badge bad';
  } else {
    badge.textContent = anchors.source === 'pinned' ? 'anchors pinned in this browser' : `anchors built into this page${anchors.bakedLabel ? ` (${anchors.bakedLabel})` : ''}`;
    badge.className = 'badge ok';
  }
  const rows = $('anchor-rows');
  rows.replaceChildren();
  for (const a of ANCHORS) {
    const tr = document.createElement('tr');
    const th = document.createElement('td');
    th.textContent = a.label;
    const what = document.createElement('span');
    what.className = 'what';
    what.textContent = `${a.file}: ${a.what}`;
    th.append(what);
    const fp = document.createElement('td');
    fp.className = 'fp';
    fp.textContent = anchors.fingerprints ? anchors.fingerprints[a.id] : '—';
    const pick = document.createElement('td');
    const inp = document.createElement('input');
    inp.type = 'file';
    inp.accept = '.pem,application/x-pem-file,text/plain';
    inp.id = `pin-${a.id}`;
    inp.setAttribute('aria-label', `${a.label} PEM file (${a.file})`);
    pick.append(inp);
    tr.append(th, fp, pick);
    rows.append(tr);
  }
  const pinned = readPinned(store);
  $('pin-pcr0').value = (pinned && pinned.pcr0) || '';
  const msg = $('pin-msg');
  if (anchorError) showMsg(msg, anchorError, false);
  else if (anchors.bakedDiffers) showMsg(msg, 'Your pinned anchors differ from the ones built into this page; the pinned ones are used.', true);
  else if (anchors.source === 'none') showMsg(msg, 'No anchors yet: choose the three PEM files and pin them.', false);
  else msg.hidden = true;
  if (anchors.source === 'none') $('trust-box').open = true;
}

async function savePins() {
  const msg = $('pin-msg');
  const current = readPinned(store) || {};
  const next = { ...current };
  try {
    for (const a of ANCHORS) {
      const f = $(`pin-${a.id}`).files[0];
      if (f) {
        if (f.size > 64 * 1024) throw new Error(`${a.label}: file too large for a PEM`);
        const text = await f.text();
        await checkAnchor(a.id, text).catch((e) => { throw new Error(`${a.label}: ${e.message}`); });
        next[a.id] = text;
      }
      if (!next[a.id]) throw new Error(`${a.label}: choose its file (${a.file})`);
    }
    next.pcr0 = normalisePcr0($('pin-pcr0').value);
  } catch (e) {
    showMsg(msg, e.message, false);
    return;
  }
  writePinned(store, next);
  await refreshAnchors();
  showMsg($('pin-msg'), 'Pinned. These anchors are used from now on in this browser.', true);
}

// ---- steps ----------------------------------------------------------------------

function resetSteps() {
  const ol = $('steps');
  ol.replaceChildren();
  for (const [id, label] of STEPS) {
    const li = document.createElement('li');
    li.id = `step-${id}`;
    li.className = 'pending';
    li.innerHTML = '<span class="icon" aria-hidden="true"></span><span class="label"></span><span class="detail"></span>';
    li.querySelector('.label').textContent = label;
    ol.append(li);
  }
  setProgress(0, '');
}

function setProgress(n, mode) {
  $('bar').style.width = `${Math.round((n / STEPS.length) * 100)}%`;
  const p = $('bar').parentElement;
  p.className = `progress ${mode}`;
  p.setAttribute('aria-valuenow', String(n));
}

function onStep(id, state, text) {
  const li = $(`step-${id}`);
  if (!li) return;
  if (state === 'label') { li.querySelector('.label').textContent = text; return; }
  li.className = state;
  const step = STEPS.find(([s]) => s === id);
  if (state === 'failed') li.querySelector('.label').textContent = step[2];
  li.querySelector('.detail').textContent = text || '';
  const done = STEPS.filter(([s]) => $(`step-${s}`).className === 'done').length;
  const waiting = state === 'active' && (id === 'queued' || id === 'processing');
  setProgress(state === 'active' ? done + 0.5 : done, state === 'failed' ? 'failed' : waiting ? 'waiting' : '');
  li.setAttribute('aria-label', `${li.querySelector('.label').textContent}: ${state}${text ? `, ${text}` : ''}`);
}

function showMsg(el, text, info) {
  el.textContent = text;
  el.className = info ? 'msg info' : 'msg';
  el.hidden = false;
}

// ---- the photo ----------------------------------------------------------------------

async function checkPhoto(file) {
  if (!file) throw new Error('No file was chosen.');
  if (file.size === 0) throw new Error('The file is empty.');
  if (file.size > MAX_BYTES) throw new Error(`The photo is ${(file.size / 1048576).toFixed(1)} MiB; the limit is 16 MiB.`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  const png = bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  if (!jpeg && !png) throw new Error(`"${file.name}" is not a JPEG or PNG photo${file.type ? ` (it is ${file.type})` : ''}.`);
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes], { type: jpeg ? 'image/jpeg' : 'image/png' }));
  } catch {
    throw new Error(`"${file.name}" does not decode as an image.`);
  }
  const { width: w, height: h } = bitmap;
  if (w < MIN_SIDE || h < MIN_SIDE) { bitmap.close(); throw new Error(`The photo is ${w}×${h} pixels; each side must be at least ${MIN_SIDE}.`); }
  if (w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS) { bitmap.close(); throw new Error(`The photo is ${w}×${h} pixels; the limit is ${MAX_SIDE} a side and 40 megapixels.`); }
  return { bytes, bitmap, name: file.name, kind: jpeg ? 'JPEG' : 'PNG' };
}

function drawResult(bitmap, boxes) {
  const canvas = $('canvas');
  const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const lw = Math.max(2, Math.round(canvas.width / 300));
  ctx.font = `600 ${Math.max(12, Math.round(canvas.width / 40))}px system-ui, sans-serif`;
  for (const [x1, y1, x2, y2, score] of boxes || []) {
    const x = x1 * canvas.width, y = y1 * canvas.height, w = (x2 - x1) * canvas.width, h = (y2 - y1) * canvas.height;
    ctx.lineWidth = lw + 2;
    ctx.strokeStyle = 'rgba(0,0,0,.55)';
    ctx.strokeRect(x, y, w, h);
    ctx.lineWidth = lw;
    ctx.strokeStyle = '#ffd23f';
    ctx.strokeRect(x, y, w, h);
    const label = `cat ${score.toFixed(2)}`;
    const tw = ctx.measureText(label).width + 10, th = parseInt(ctx.font.split(' ')[1], 10) + 8;
    const ly = y - th >= 0 ? y - th : y;
    ctx.fillStyle = '#ffd23f';
    ctx.fillRect(x, ly, tw, th);
    ctx.fillStyle = '#1c2422';
    ctx.fillText(label, x + 5, ly + th - 6);
  }
}

function fieldText(r, k) {
  const hex = (b) => toHex(b);
  switch (k) {
    case 'v': return String(r.v);
    case 'seq': return String(r.seq);
    case 'pcrs': {
      const all = [...r.pcrs.entries()].sort((a, b) => a[0] - b[0]);
      const zero = all.filter(([, v]) => v.every((x) => x === 0)).map(([i]) => i);
      const lines = all.filter(([, v]) => v.some((x) => x !== 0)).map(([i, v]) => `PCR${i} ${hex(v)}`);
      if (zero.length) lines.push(`PCR${zero.join(', ')}: all zero`);
      return lines.join('\n');
    }
    case 'job_id': return r.jobId;
    case 'time_ms': return `${r.timeMs} (${new Date(r.timeMs).toISOString()})`;
    case 'model_sha256': return hex(r.modelSha256);
    case 'answer_sha256': return hex(r.answerSha256);
    case 'policy_sha256': return hex(r.policySha256);
    case 'request_sha256': return hex(r.requestSha256);
    case 'attestation_sha256': return hex(r.attestationSha256);
    default: return '';
  }
}

function showResult(photo, out) {
  const n = out.answer.count;
  $('count').textContent = String(n);
  $('count-unit').textContent = n === 1 ? 'cat' : 'cats';
  const shown = (out.answer.boxes || []).length;
  $('count-sub').textContent = `model ${out.answer.model} · confidence ${out.answer.confidence.toFixed(3)}${shown ? ` · ${shown} box${shown > 1 ? 'es' : ''} shown` : ''} · policy v${out.policy.version} · receipt verified`;
  drawResult(photo.bitmap, out.answer.boxes);
  const dl = $('receipt-fields');
  dl.replaceChildren();
  for (const k of RECEIPT_KEYS) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = fieldText(out.receipt, k);
    dd.className = 'v';
    dl.append(dt, dd);
  }
  const add = (k, v) => { const dt = document.createElement('dt'); dt.textContent = k; const dd = document.createElement('dd'); dd.textContent = v; dl.append(dt, dd); };
  add('answer', out.answer.text);
  add('signed by', `enclave key in the attestation document of ${new Date(out.signer.doc.timestampMs).toISOString()}`);
  $('empty').hidden = true;
  $('result').hidden = false;
  last = { out, id: out.jobId.slice(0, 8) };
}

function download(bytes, name, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function handleFile(file) {
  if (busy) return;
  const fileMsg = $('file-msg'), jobMsg = $('job-msg');
  fileMsg.hidden = true;
  jobMsg.hidden = true;
  $('result').hidden = true; // a new photo clears the last result at once
  $('empty').hidden = false;
  let photo;
  try {
    photo = await checkPhoto(file);
  } catch (e) {
    showMsg(fileMsg, `Not sent: ${e.message}`, false);
    return;
  }
  showMsg(fileMsg, `${photo.name}: ${photo.kind}, ${photo.bitmap.width}×${photo.bitmap.height}, ${(photo.bytes.length / 1024).toFixed(0)} KiB — checked locally.`, true);
  busy = true;
  $('drop').classList.add('busy');
  $('result').hidden = true;
  $('empty').hidden = false;
  resetSteps();
  try {
    await refreshAnchors();
    if (anchorError) throw new Error(anchorError);
    if (anchors.source === 'none') {
      showMsg(jobMsg, 'Not sent: no trust anchors. Pin the attestation root, the policy key and the key service key under “Trust anchors” first.', false);
      $('trust-box').open = true;
      $('trust-box').scrollIntoView({ block: 'nearest' });
      photo.bitmap.close();
      return;
    }
    const out = await runJob({ photo: photo.bytes, anchors, storage: store, onStep });
    setProgress(STEPS.length, '');
    showResult(photo, out);
    $('result').focus({ preventScroll: false });
  } catch (e) {
    const sent = SENT_AFTER.has(e.step);
    showMsg(jobMsg, `Stopped: ${e.message}. ${sent ? 'The photo had been sent encrypted; the answer is not shown because it did not verify.' : 'Nothing was sent to the service.'}`, false);
    photo.bitmap.close();
  } finally {
    busy = false;
    $('drop').classList.remove('busy');
  }
}

// ---- wiring ---------------------------------------------------------------------------

function init() {
  resetSteps();
  const drop = $('drop'), input = $('file');
  drop.addEventListener('click', () => input.click());
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } });
  input.addEventListener('change', () => { const f = input.files[0]; input.value = ''; handleFile(f); });
  for (const ev of ['dragenter', 'dragover']) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('over'); });
  for (const ev of ['dragleave', 'drop']) drop.addEventListener(ev, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const files = e.dataTransfer.files;
    if (files.length !== 1) { showMsg($('file-msg'), 'Not sent: drop exactly one photo.', false); return; }
    handleFile(files[0]);
  });
  // A photo dropped outside the zone must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  $('dl-receipt').addEventListener('click', () => last && download(last.out.receiptBytes, `receipt-${last.id}.cose`, 'application/cose'));
  $('dl-attest').addEventListener('click', () => last && download(last.out.signerDoc, `attestation-${last.id}.cbor`, 'application/cbor'));
  $('again').addEventListener('click', () => { $('result').hidden = true; $('empty').hidden = false; resetSteps(); drop.focus(); });
  $('pin-save').addEventListener('click', savePins);
  $('pin-clear').addEventListener('click', async () => { clearPinned(store); await refreshAnchors(); });
  refreshAnchors();
}

init();
