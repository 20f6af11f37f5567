// attest.js — the Nitro attestation document verifier: the same parse
// rules, checks, order and refusal codes as src/attest (docs/attestation.md
// §2), so the page refuses exactly what `ccc attest verify` refuses.
// aws-nitro-enclaves-nsm-api docs/attestation_process.md §3.2 "Syntactical
// validation", §3.2.2 "Certificates validity", §3.3 "Semantical validation".

import { CborError, decode } from './cbor.js';
import { ALG_ES384, importSpki, parseSign1, verifySign1 } from './cose.js';
import { ChainError, chainMatches, chainVerify, parseCert } from './x509chain.js';
import { equal } from './bytes.js';

export const MAX_DOC_SIZE = 64 * 1024;
const MAX_CABUNDLE = 8, MAX_CERT_SIZE = 1024, MAX_USER_SIZE = 1024, MAX_MODULE_ID = 256;
const MIN_TIMESTAMP_MS = 1572220800000n; // 2019-10-28, the AWS root's birth
export const MAX_SKEW_MS = 5 * 60 * 1000;
export const CHECKS = ['parse', 'alg', 'chain', 'signature', 'debug', 'pcrs', 'nonce', 'freshness', 'public_key', 'user_data'];

class Refuse extends Error {
  constructor(code, msg) { super(msg); this.code = code; }
}
const E = (s) => 'CCC_ATTEST_E_' + s;

function bstr(it, min, max, typeMsg, sizeMsg) {
  if (it.type !== 'bytes') throw new Refuse(E('FIELD_TYPE'), typeMsg);
  if (it.bytes.length < min || it.bytes.length > max) throw new Refuse(E('FIELD_SIZE'), sizeMsg);
  return it.bytes;
}
function optBstr(it, min, typeMsg, sizeMsg) {
  if (it.type === 'null') return null;
  return bstr(it, min, MAX_USER_SIZE, typeMsg, sizeMsg);
}

function parsePcrs(m, doc) {
  if (m.type !== 'map') throw new Refuse(E('FIELD_TYPE'), 'pcrs is not a map');
  if (m.entries.length < 1 || m.entries.length > 32) throw new Refuse(E('FIELD_SIZE'), 'pcrs must hold 1 to 32 entries');
  for (const [k, v] of m.entries) {
    if (k.type !== 'uint') throw new Refuse(E('FIELD_TYPE'), 'PCR index is not an unsigned integer');
    if (k.value >= 32n) throw new Refuse(E('PCR_INDEX'), `PCR index out of range: ${k.value}`);
    const i = Number(k.value);
    if (v.type !== 'bytes') throw new Refuse(E('FIELD_TYPE'), `PCR value is not bytes, index ${i}`);
    const n = v.bytes.length;
    if (n !== 32 && n !== 48 && n !== 64) throw new Refuse(E('FIELD_SIZE'), `PCR value is not 32, 48 or 64 bytes, index ${i}`);
    if (doc.pcrs.has(i)) throw new Refuse(E('PCR_INDEX'), `PCR index repeated: ${i}`);
    doc.pcrs.set(i, v.bytes);
  }
}

const FIELDS = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce'];

function parseField(doc, f, v) {
  switch (f) {
    case 'module_id':
      if (v.type !== 'text') throw new Refuse(E('FIELD_TYPE'), 'module_id is not text');
      if (v.bytes.length < 1 || v.bytes.length > MAX_MODULE_ID) throw new Refuse(E('FIELD_SIZE'), 'module_id empty or too long');
      doc.moduleId = v.text;
      break;
    case 'digest':
      if (v.type !== 'text') throw new Refuse(E('FIELD_TYPE'), 'digest is not text');
      if (v.text !== 'SHA384') throw new Refuse(E('DIGEST'), 'digest is not SHA384');
      break;
    case 'timestamp':
      if (v.type !== 'uint') throw new Refuse(E('FIELD_TYPE'), 'timestamp is not an unsigned integer');
      if (v.value < MIN_TIMESTAMP_MS) throw new Refuse(E('TIMESTAMP'), 'timestamp before 2019-10-28 (not milliseconds?)');
      doc.timestampMs = Number(v.value);
      break;
    case 'pcrs':
      parsePcrs(v, doc);
      break;
    case 'certificate':
      doc.certificate = bstr(v, 1, MAX_CERT_SIZE, 'certificate is not a byte string', 'certificate size out of bounds (1..1024 bytes)');
      break;
    case 'cabundle':
      if (v.type !== 'array') throw new Refuse(E('FIELD_TYPE'), 'cabundle is not an array');
      if (v.items.length < 1 || v.items.length > MAX_CABUNDLE) throw new Refuse(E('FIELD_SIZE'), 'cabundle must hold 1 to 8 certificates');
      doc.cabundle = v.items.map((c) => bstr(c, 1, MAX_CERT_SIZE, 'cabundle entry is not a byte string', 'cabundle entry size out of bounds (1..1024 bytes)'));
      break;
    case 'public_key':
      doc.publicKey = optBstr(v, 1, 'public_key is neither bytes nor null', 'public_key size out of bounds (1..1024 bytes)');
      break;
    case 'user_data':
      doc.userData = optBstr(v, 0, 'user_data is neither bytes nor null', 'user_data over 1024 bytes');
      break;
    case 'nonce':
      doc.nonce = optBstr(v, 0, 'nonce is neither bytes nor null', 'nonce over 1024 bytes');
      break;
  }
}

// Parse a document. → {doc} or throws Refuse (code + detail).
export function parseDoc(input) {
  if (input.length > MAX_DOC_SIZE) throw new Refuse(E('TOO_LARGE'), 'attestation document too large');
  const lim = { maxInputSize: MAX_DOC_SIZE, maxStringSize: MAX_DOC_SIZE, maxItems: 64, maxDepth: 4 };
  let cose;
  try {
    cose = parseSign1(input, lim);
  } catch (e) {
    if (e instanceof CborError && e.kind === 'unsupported') throw new Refuse(E('ALG'), e.message);
    throw new Refuse(E('COSE'), e.message);
  }
  if (cose.alg !== ALG_ES384) throw new Refuse(E('ALG'), 'attestation alg is not ES384');
  if (cose.detached) throw new Refuse(E('COSE'), 'attestation payload is detached');
  let map;
  try {
    map = decode(cose.payload, { maxInputSize: MAX_DOC_SIZE, maxStringSize: MAX_DOC_SIZE, maxItems: 256, maxDepth: 4 }, 0);
  } catch (e) {
    throw new Refuse(E('PAYLOAD'), e.message);
  }
  if (map.type !== 'map') throw new Refuse(E('PAYLOAD'), 'attestation payload is not a map');
  const doc = { cose, raw: input, pcrs: new Map(), publicKey: null, userData: null, nonce: null };
  const seen = new Set();
  for (const [k, v] of map.entries) {
    if (k.type !== 'text') throw new Refuse(E('EXTRA_FIELD'), 'attestation key is not text');
    if (!FIELDS.includes(k.text)) throw new Refuse(E('EXTRA_FIELD'), 'unknown attestation field');
    if (seen.has(k.text)) throw new Refuse(E('EXTRA_FIELD'), 'attestation field repeated');
    seen.add(k.text);
    parseField(doc, k.text, v);
  }
  for (const f of FIELDS.slice(0, 6)) if (!seen.has(f)) throw new Refuse(E('MISSING_FIELD'), `${f} missing`);
  return doc;
}

// PCR0, PCR1 and PCR2 (those present) all zero: a debug-mode enclave.
export function isDebug(doc) {
  for (let i = 0; i <= 2; i++) {
    const v = doc.pcrs.get(i);
    if (v && v.some((x) => x !== 0)) return false;
  }
  return true;
}

/*
 * Verify `input` against `root` (rootFromDer) and `policy`:
 *   sets: [[{index, value: Uint8Array}, ...], ...]   accepted measurement sets
 *   allowAnyMeasurementINSECURE, allowDebugINSECURE: booleans
 *   atMs: verification time (null/undefined: the document's own timestamp)
 *   maxAgeMs, nonce, publicKey, userData: optional bindings
 * → {result: 'CCC_ATTEST_OK' | code, detail, checks: [{name, outcome, code, detail}], doc, matchedSet}
 */
export async function verifyAttestation(input, root, policy) {
  const checks = CHECKS.map((name) => ({ name, outcome: 'not run', code: 'CCC_ATTEST_OK', detail: '' }));
  const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
  const pass = (n, d) => Object.assign(byName[n], { outcome: 'pass', detail: d });
  const skip = (n, d) => Object.assign(byName[n], { outcome: 'skipped', detail: d });
  const fail = (n, code, d) => Object.assign(byName[n], { outcome: 'FAIL', code, detail: d });
  const conclude = (doc, extra = {}) => {
    const f = checks.find((c) => c.outcome === 'FAIL');
    return { result: f ? f.code : 'CCC_ATTEST_OK', detail: f ? f.detail : '', failed: f ? f.name : null, checks, doc, ...extra };
  };

  let doc;
  try {
    doc = parseDoc(input);
  } catch (e) {
    if (!(e instanceof Refuse)) throw e;
    if (e.code === E('ALG')) { pass('parse', ''); fail('alg', e.code, e.message); } else fail('parse', e.code, e.message);
    return conclude(null);
  }
  pass('parse', 'COSE_Sign1 and every payload field well-formed');
  pass('alg', 'ES384');
  const hasTime = policy.atMs !== undefined && policy.atMs !== null;
  const at = hasTime ? policy.atMs : doc.timestampMs;

  // 2, 3: chain and signature.
  let leafSpki = null;
  try {
    const { chain } = await chainVerify(root, doc.certificate, doc.cabundle, Math.floor(at / 1000));
    if (!chainMatches(chain, doc.certificate, doc.cabundle, root)) throw new ChainError('chain_order', 'chain is valid only with other or reordered certificates');
    if (!equal(doc.cabundle[0], root.der)) throw new ChainError('chain_order', 'cabundle[0] is not the pinned root');
    leafSpki = new Uint8Array(chain[0].publicKey.rawData);
    pass('chain', 'leaf <- cabundle <- pinned root, valid at the time');
  } catch (e) {
    if (!(e instanceof ChainError)) throw e;
    const map = { malformed: 'CERT_MALFORMED', expired: 'CERT_EXPIRED', not_yet_valid: 'CERT_NOT_YET_VALID', untrusted_root: 'UNTRUSTED_ROOT', bad_signature: 'CERT_SIGNATURE' };
    const msg = /depth$/.test(e.message) ? `${e.message} ${e.depth}` : e.message;
    fail('chain', E(map[e.why] || 'CHAIN'), msg);
    // For the report only: is the signature at least the leaf's? The chain
    // failure already decides the result.
    const leaf = parseCert(doc.certificate);
    leafSpki = leaf ? new Uint8Array(leaf.publicKey.rawData) : null;
  }
  const key = leafSpki ? await importSpki(ALG_ES384, leafSpki) : null;
  if (!key) fail('signature', E('SIGNATURE'), 'no usable leaf key');
  else if (await verifySign1(doc.cose, key)) pass('signature', 'ES384 by the leaf certificate key');
  else fail('signature', E('SIGNATURE'), 'signature verification failed');

  // 4: debug mode.
  if (isDebug(doc) && !policy.allowDebugINSECURE) fail('debug', E('DEBUG_MODE'), 'debug-mode enclave (PCR0/1/2 all zero) refused');
  else pass('debug', isDebug(doc) ? 'debug mode ACCEPTED (allow_debug_INSECURE)' : 'not a debug-mode enclave');

  // 5: PCRs against the accepted sets; empty means refuse, never allow-all.
  let matchedSet = -1;
  if (policy.allowAnyMeasurementINSECURE) {
    skip('pcrs', 'not compared: allow_any_measurement_INSECURE');
  } else {
    const sets = policy.sets || [];
    if (sets.length === 0 || sets.some((s) => s.length === 0)) {
      fail('pcrs', E('POLICY_EMPTY'), 'empty measurement allowlist (refusing, not allow-all)');
    } else {
      let firstBad = -1;
      for (let s = 0; s < sets.length && matchedSet < 0; s++) {
        let bad = -1;
        for (const { index, value } of sets[s]) {
          const got = doc.pcrs.get(index);
          if (!got || !equal(got, value)) { bad = index; break; }
        }
        if (bad < 0) matchedSet = s;
        else if (firstBad < 0) firstBad = bad;
      }
      if (matchedSet >= 0) pass('pcrs', `matches accepted measurement set ${matchedSet}`);
      else fail('pcrs', E('PCR_MISMATCH'), `PCR mismatch: no accepted set matches, PCR ${firstBad}`);
    }
  }

  const bound = (name, got, want, code, what) => {
    if (!want) return skip(name, 'not bound by the caller');
    if (got && equal(got, want)) return pass(name, 'equals the expected value');
    fail(name, E(code), what);
  };
  bound('nonce', doc.nonce, policy.nonce, 'NONCE_MISMATCH', 'nonce absent or not the expected one');

  // 7: freshness.
  if (!hasTime) {
    if (policy.maxAgeMs) fail('freshness', E('NEEDS_TIME'), 'maximum age needs a verification time');
    else skip('freshness', "verified at the document's own time");
  } else if (doc.timestampMs > at && doc.timestampMs - at > MAX_SKEW_MS) {
    fail('freshness', E('FROM_FUTURE'), `document timestamp is in the future, by ms ${doc.timestampMs - at}`);
  } else {
    const age = at > doc.timestampMs ? at - doc.timestampMs : 0;
    if (policy.maxAgeMs && age > policy.maxAgeMs) fail('freshness', E('TOO_OLD'), `document older than the maximum age, age in s ${Math.floor(age / 1000)}`);
    else pass('freshness', policy.maxAgeMs ? 'within the maximum age' : 'not in the future');
  }
  bound('public_key', doc.publicKey, policy.publicKey, 'PUBLIC_KEY_MISMATCH', 'public_key absent or not the expected one');
  bound('user_data', doc.userData, policy.userData, 'USER_DATA_MISMATCH', 'user_data absent or not the expected one');
  return conclude(doc, { matchedSet, verifiedAtMs: at });
}
