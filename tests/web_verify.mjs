// tests/web_verify.mjs — the page's attestation verifier (web/src/attest.js)
// under Node over the corpus tests/vectors/nitro/cases.txt: every case must
// end with the same result code as the C verifier (tests/test_attest.c), and
// the detail text where the case names one. Then one-bit flips at every 7th
// byte and every truncation of the real document must be refused.
// Run: node tests/web_verify.mjs  (from the repository root or anywhere)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = process.env.CCC_SOURCE_DIR || join(dirname(fileURLToPath(import.meta.url)), '..');
const LIB = await import(process.env.CCC_WEB_LIB || join(ROOT, 'build/web-lib/ccc-web.mjs'));
const { verifyAttestation } = LIB.attest, { rootFromDer } = LIB.x509chain, { fromHex, pemDecode } = LIB.bytes;
const NITRO = join(ROOT, 'tests/vectors/nitro');
const roots = {
  aws: rootFromDer(pemDecode(readFileSync(join(NITRO, 'aws-nitro-root-g1.pem'), 'utf8'), 'CERTIFICATE')),
  sim: rootFromDer(pemDecode(readFileSync(join(NITRO, 'sim/root.pem'), 'utf8'), 'CERTIFICATE')),
  other: rootFromDer(pemDecode(readFileSync(join(NITRO, 'sim/other-root.pem'), 'utf8'), 'CERTIFICATE')),
};

function bytesOf(v) {
  if (v.startsWith('text:')) return new TextEncoder().encode(v.slice(5));
  if (v.startsWith('repeat:')) {
    const [, b, n] = v.split(':');
    return new Uint8Array(Number(n)).fill(parseInt(b, 16));
  }
  return fromHex(v.startsWith('hex:') ? v.slice(4) : v);
}
function timeOf(v) {
  if (!v || v === 'doc') return null;
  if (v === 'now') return Date.now();
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (isNaN(t)) throw new Error(`bad time ${v}`);
  return t;
}

function parseCases(text) {
  const cases = [];
  let c = null, line = 0;
  for (const raw of text.split('\n')) {
    line++;
    const l = raw.trim();
    if (l.startsWith('#')) continue;
    if (!l) { if (c) cases.push(c); c = null; continue; }
    const m = l.match(/^(\w+)\s*=\s*(.*)$/);
    if (!m) throw new Error(`cases.txt:${line}: cannot parse`);
    c = c || { line, root: 'aws', sets: [], pcrsLine: false };
    const [, k, v] = m;
    if (k === 'pcrs') {
      c.pcrsLine = true;
      if (v === 'none') continue;
      if (v === 'any-INSECURE') { c.any = true; continue; }
      c.sets.push(v.split(/\s+/).map((p) => { const [i, h] = p.split('='); return { index: Number(i), value: fromHex(h) }; }));
    } else c[k] = v;
  }
  if (c) cases.push(c);
  return cases;
}

const cases = parseCases(readFileSync(join(NITRO, 'cases.txt'), 'utf8'));
let failed = 0, passed = 0;
for (const c of cases) {
  const doc = new Uint8Array(readFileSync(join(NITRO, c.file)));
  const policy = {
    sets: c.sets,
    allowAnyMeasurementINSECURE: !!c.any,
    allowDebugINSECURE: c.allow_debug_INSECURE === 'yes',
    atMs: timeOf(c.time),
    maxAgeMs: c.max_age_ms ? Number(c.max_age_ms) : 0,
    nonce: c.nonce ? bytesOf(c.nonce) : null,
    publicKey: c.public_key ? bytesOf(c.public_key) : null,
    userData: c.user_data ? bytesOf(c.user_data) : null,
  };
  const r = await verifyAttestation(doc, roots[c.root], policy);
  const okDetail = !c.detail || (r.result !== 'CCC_ATTEST_OK' && r.detail.includes(c.detail));
  if (r.result === c.expect && okDetail) { passed++; continue; }
  failed++;
  console.log(`FAIL cases.txt:${c.line} ${c.name}: got ${r.result} (${r.detail}), want ${c.expect}${c.detail ? ` with '${c.detail}'` : ''}`);
}
console.log(`corpus: ${passed} of ${cases.length} cases agree with the C verifier`);

// Tampering the real document: every 7th byte flipped, every truncation.
const blocky = new Uint8Array(readFileSync(join(NITRO, 'attestation-blocky-2024-09-07.cbor')));
const base = cases.find((c) => c.name === 'blocky-at-own-time');
const policy = { sets: base.sets, nonce: bytesOf(base.nonce), userData: bytesOf(base.user_data), publicKey: bytesOf(base.public_key) };
const good = await verifyAttestation(blocky, roots.aws, policy);
if (good.result !== 'CCC_ATTEST_OK') { failed++; console.log('FAIL: the untouched real document does not verify'); }
let flips = 0;
for (let i = 0; i < blocky.length; i += 7) {
  const t = blocky.slice();
  t[i] ^= 0x01;
  const r = await verifyAttestation(t, roots.aws, policy);
  if (r.result === 'CCC_ATTEST_OK') { failed++; console.log(`FAIL: bit flip at byte ${i} accepted`); }
  flips++;
}
let cuts = 0;
for (let n = 0; n < blocky.length; n += n < 64 ? 1 : 13) {
  const r = await verifyAttestation(blocky.subarray(0, n), roots.aws, policy);
  if (r.result === 'CCC_ATTEST_OK') { failed++; console.log(`FAIL: truncation to ${n} bytes accepted`); }
  cuts++;
}
console.log(`tampering: ${flips} bit flips and ${cuts} truncations refused`);
if (failed) { console.log(`${failed} failure(s)`); process.exit(1); }
console.log('web_verify: all passed');
