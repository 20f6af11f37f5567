// signed.js — the three signed documents a client checks besides the
// attestation: the policy bundle (src/policy), the key service's signed
// configuration (src/kms, docs/protocol.md §9) and the receipt (src/receipt,
// §7). Same rules as the C side: EdDSA COSE_Sign1, canonical CBOR payload
// (RFC 8949 §4.2.1), exactly the listed keys, every size and limit.

import { CANONICAL, CborError, decode, encodeHead, getBytes, getUint, mapGet } from './cbor.js';
import { ALG_EDDSA, importSpki, parseSign1, verifySign1 } from './cose.js';
import { concat, equal, sha256, sha384, toHex } from './bytes.js';
import { decodeKeyConfigs } from './ohttp.js';

export class CheckError extends Error {
  constructor(kind, msg) { super(msg); this.kind = kind; }
}
const fail = (kind, msg) => { throw new CheckError(kind, msg); };

// Ed25519 public key from a SubjectPublicKeyInfo (DER).
export async function ed25519FromSpki(spki, what) {
  const k = await importSpki(ALG_EDDSA, spki);
  if (!k) fail('parse', `${what} is not an Ed25519 public key`);
  return k;
}

async function openEdDsa(bytes, key, maxSize, what) {
  if (bytes.length > maxSize) fail('limit', `${what} too large`);
  let msg;
  try {
    msg = parseSign1(bytes, null);
  } catch (e) {
    fail(e.kind === 'unsupported' ? 'unsupported' : 'parse', `${what}: ${e.message}`);
  }
  if (msg.alg !== ALG_EDDSA) fail('unsupported', `${what} alg must be EdDSA`);
  if (msg.detached) fail('parse', `${what} payload detached`);
  if (!(await verifySign1(msg, key))) fail('crypto', `${what} signature does not verify with the pinned key`);
  return msg;
}

function canonical(payload, lim, what) {
  try {
    return decode(payload, lim, CANONICAL);
  } catch (e) {
    fail(e.kind === 'limit' ? 'limit' : 'parse', `${what}: ${e.message}`);
  }
}

function exactKeys(map, keys, what) {
  if (map.type !== 'map') fail('parse', `${what} is not a map`);
  if (map.entries.length !== keys.length) fail('parse', `${what} must hold exactly ${keys.join(', ')}`);
  for (const k of keys) if (mapGet(map, k) === undefined) fail('parse', `${what} lacks ${k}`);
}

function guard(fn) {
  try { return fn(); } catch (e) { if (e instanceof CborError) fail('parse', e.message); throw e; }
}

// ---- policy bundle --------------------------------------------------------

const pcrSizeOk = (n) => n === 32 || n === 48 || n === 64;

export async function verifyPolicy(bundle, policyKey) {
  const msg = await openEdDsa(bundle, policyKey, 64 * 1024, 'policy bundle');
  const root = canonical(msg.payload, { maxInputSize: 64 * 1024, maxItems: 1024, maxDepth: 4 }, 'policy');
  const p = guard(() => {
    exactKeys(root, ['egress', 'format', 'measurements', 'model_manifests', 'tou', 'version'], 'policy');
    if (getUint(mapGet(root, 'format'), 'format') !== 1n) fail('unsupported', 'unknown policy format');
    const version = getUint(mapGet(root, 'version'), 'version');
    const ms = mapGet(root, 'measurements');
    if (ms.type !== 'array') fail('parse', 'measurements is not an array');
    if (ms.items.length < 1 || ms.items.length > 8) fail('limit', 'policy needs 1 to 8 measurement sets');
    const sets = ms.items.map((set) => {
      if (set.type !== 'map') fail('parse', 'measurement set is not a map');
      if (set.entries.length < 1) fail('parse', 'empty measurement set');
      return set.entries.map(([k, v]) => {
        const idx = getUint(k, 'PCR index'), b = getBytes(v, 'PCR value');
        if (idx >= 32n || !pcrSizeOk(b.length)) fail('parse', 'bad PCR in a measurement set');
        return { index: Number(idx), value: b };
      });
    });
    const pair = (m, k1, k2, what) => {
      exactKeys(m, [k1, k2], what);
      return [getUint(mapGet(m, k1), k1), getUint(mapGet(m, k2), k2)];
    };
    const [maxAnswerBytes, maxBoxes] = pair(mapGet(root, 'egress'), 'max_answer_bytes', 'max_boxes', 'egress');
    const [maxBodyBytes, ratePerMinute] = pair(mapGet(root, 'tou'), 'max_body_bytes', 'rate_per_minute', 'tou');
    const mm = mapGet(root, 'model_manifests');
    if (mm.type !== 'array') fail('parse', 'model_manifests is not an array');
    if (mm.items.length < 1 || mm.items.length > 8) fail('limit', 'policy needs 1 to 8 model manifest hashes');
    const manifests = mm.items.map((m) => getBytes(m, 'model manifest hash', 32));
    if (version < 1n || maxAnswerBytes === 0n || maxBoxes === 0n || maxBodyBytes === 0n || ratePerMinute === 0n)
      fail('parse', 'policy version or limit is zero');
    return { version, sets, manifests, maxAnswerBytes, maxBoxes, maxBodyBytes, ratePerMinute, payload: msg.payload };
  });
  // The policy hash: SHA-256 of the payload (extended into PCR17).
  p.sha256 = await sha256(msg.payload);
  return p;
}

/*
 * Anti-rollback (ccc_policy_rollback_check): `store` has get(key)/set(key, v)
 * (localStorage in the page). An older version, or the same version with
 * other content, is refused; a newer one is recorded.
 */
export function policyRollbackCheck(store, scope, version, hash) {
  const key = `ccc.policy-state.${scope}`;
  const seen = store.getItem(key);
  if (seen !== null) {
    const m = /^ccc-policy-state 1\nversion (\d+)\nsha256 ([0-9a-f]{64})\n$/.exec(seen);
    if (!m) fail('parse', 'the policy state kept in this browser is malformed');
    const v = BigInt(m[1]);
    if (version < v) fail('replay', `policy bundle version ${version} is older than version ${v} already accepted in this browser`);
    if (version === v) {
      if (m[2] !== toHex(hash)) fail('replay', `policy bundle with the accepted version ${v} but other content`);
      return { version, previous: v, recorded: false };
    }
  }
  store.setItem(key, `ccc-policy-state 1\nversion ${version}\nsha256 ${toHex(hash)}\n`);
  return { version, previous: seen === null ? null : BigInt(/version (\d+)/.exec(seen)[1]), recorded: true };
}

// ---- key service configuration ---------------------------------------------

export async function verifyKmsConfig(signed, kmsKey) {
  const msg = await openEdDsa(signed, kmsKey, 4096, 'key configuration');
  const root = canonical(msg.payload, null, 'key configuration');
  return guard(() => {
    exactKeys(root, ['v', 'keys', 'time_ms', 'policy_sha256'], 'key configuration');
    if (getUint(mapGet(root, 'v'), 'v') !== 1n) fail('unsupported', 'key configuration version not 1');
    const timeMs = Number(getUint(mapGet(root, 'time_ms'), 'time_ms'));
    const policySha256 = getBytes(mapGet(root, 'policy_sha256'), 'policy_sha256', 32);
    let keys;
    try {
      keys = decodeKeyConfigs(getBytes(mapGet(root, 'keys'), 'keys'), 2);
    } catch (e) {
      fail(e.kind || 'parse', `key configuration: ${e.message}`);
    }
    return { timeMs, policySha256, keys };
  });
}

// ---- PCR16 / PCR17 ------------------------------------------------------------

// NSM ExtendPCR from zero: SHA-384(0^48 || data).
export async function extendFromZero(data) {
  return sha384(concat(new Uint8Array(48), data));
}

// ---- receipt ------------------------------------------------------------------

const RECEIPT_PREFIX = Uint8Array.of(0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0);
export const RECEIPT_KEYS = ['v', 'seq', 'pcrs', 'job_id', 'time_ms', 'model_sha256', 'answer_sha256', 'policy_sha256', 'request_sha256', 'attestation_sha256'];
const ED25519_SPKI_PREFIX = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00);
export const JOB_ID_RE = /^[\x21-\x7e]{1,256}$/;

export function parseReceipt(bytes) {
  if (bytes.length > 8 * 1024) fail('limit', 'receipt too large');
  if (!equal(bytes.subarray(0, 7), RECEIPT_PREFIX)) fail('parse', 'receipt envelope is not the one accepted encoding');
  let msg;
  try { msg = parseSign1(bytes, null); } catch (e) { fail('parse', `receipt: ${e.message}`); }
  // One encoding only: payload bstr and a 64-byte signature in shortest heads.
  if (msg.alg !== ALG_EDDSA || !msg.tagged || msg.signature.length !== 64 ||
      bytes.length !== 7 + encodeHead(2, msg.payload.length).length + msg.payload.length + 2 + 64 ||
      bytes[bytes.length - 66] !== 0x58 || bytes[bytes.length - 65] !== 0x40)
    fail('parse', 'receipt envelope is not the one accepted encoding');
  const root = canonical(msg.payload, { maxInputSize: 8 * 1024, maxDepth: 4 }, 'receipt');
  const r = guard(() => {
    exactKeys(root, RECEIPT_KEYS, 'receipt');
    if (root.entries.some(([k], i) => k.text !== RECEIPT_KEYS[i])) fail('parse', 'receipt keys out of order');
    const v = getUint(mapGet(root, 'v'), 'v');
    if (v !== 1n) fail('unsupported', 'receipt version not 1');
    const pm = mapGet(root, 'pcrs');
    if (pm.type !== 'map' || pm.entries.length < 1 || pm.entries.length > 32) fail('parse', 'receipt pcrs must be a map of 1 to 32 entries');
    const pcrs = new Map();
    for (const [k, val] of pm.entries) {
      const i = getUint(k, 'PCR index'), b = getBytes(val, 'PCR value');
      if (i >= 32n || !pcrSizeOk(b.length)) fail('parse', 'bad PCR in the receipt');
      pcrs.set(Number(i), b);
    }
    const jobId = mapGet(root, 'job_id');
    if (jobId.type !== 'text' || !JOB_ID_RE.test(jobId.text)) fail('parse', 'receipt job_id is not 1..256 printable bytes');
    const h = (k) => getBytes(mapGet(root, k), k, 32);
    return {
      v, seq: getUint(mapGet(root, 'seq'), 'seq'), pcrs, jobId: jobId.text,
      timeMs: Number(getUint(mapGet(root, 'time_ms'), 'time_ms')),
      modelSha256: h('model_sha256'), answerSha256: h('answer_sha256'), policySha256: h('policy_sha256'),
      requestSha256: h('request_sha256'), attestationSha256: h('attestation_sha256'),
    };
  });
  r.msg = msg;
  r.raw = bytes;
  return r;
}

/*
 * ccc_receipt_verify, in its order: the document's public_key is an Ed25519
 * SPKI; the signature; attestation_sha256; the PCRs equal the document's;
 * time_ms >= the document's timestamp; then each expectation given
 * ({jobId, request, answer, policySha256, manifests}).
 */
export async function verifyReceipt(receipt, doc, expect) {
  const pk = doc.publicKey;
  if (!pk) fail('crypto', 'attestation document has no public_key');
  if (pk.length !== 44 || !equal(pk.subarray(0, 12), ED25519_SPKI_PREFIX)) fail('crypto', 'attestation public_key is not an Ed25519 SPKI');
  const key = await ed25519FromSpki(pk, 'attestation public_key');
  if (!(await verifySign1(receipt.msg, key))) fail('crypto', 'receipt signature does not verify with the enclave key');
  if (!equal(await sha256(doc.raw), receipt.attestationSha256)) fail('policy', 'receipt is bound to another attestation document');
  if (receipt.pcrs.size !== doc.pcrs.size) fail('policy', 'receipt PCRs are not the document PCRs');
  for (const [i, v] of doc.pcrs) if (!equal(receipt.pcrs.get(i), v)) fail('policy', `receipt PCR ${i} is not the document's`);
  if (receipt.timeMs < doc.timestampMs) fail('policy', 'receipt is older than its attestation document');
  if (expect.jobId !== undefined && receipt.jobId !== expect.jobId) fail('policy', 'receipt names another job id');
  if (expect.request && !equal(await sha256(expect.request), receipt.requestSha256)) fail('policy', 'receipt is for another request ciphertext');
  // answer_sha256 = SHA-256(answer_salt || answer); the salt is exported
  // from the request's HPKE context (src/receipt/receipt.h), so the host,
  // which carries the receipt, cannot test guesses of the answer.
  if (expect.answer) {
    if (!expect.answerSalt || expect.answerSalt.length !== 32) fail('policy', 'no answer salt to check the answer with');
    if (!equal(await sha256(concat(expect.answerSalt, expect.answer)), receipt.answerSha256)) fail('policy', 'receipt is for another answer');
  }
  if (expect.policySha256 && !equal(expect.policySha256, receipt.policySha256)) fail('policy', 'receipt names another policy');
  if (expect.manifests && !expect.manifests.some((m) => equal(m, receipt.modelSha256))) fail('policy', "receipt's model is not one the policy lists");
  return true;
}
