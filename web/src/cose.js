// cose.js — COSE_Sign1 (RFC 9052 §4) parsing and verification, the rules of
// src/cose: tag 18 or untagged, array of 4, protected header a bstr holding
// a map, alg only in the protected bucket, no crit, labels int or text and
// never in both buckets; ECDSA signatures raw r||s (RFC 9053 §2.1).

import { decode, encodeHead, CborError } from './cbor.js';
import { concat, subtle, utf8 } from './bytes.js';

export const ALG_ES256 = -7n, ALG_ES384 = -35n, ALG_ES512 = -36n, ALG_EDDSA = -8n;
const ALGS = new Map([
  [ALG_ES256, { name: 'ES256', curve: 'P-256', hash: 'SHA-256', sig: 64 }],
  [ALG_ES384, { name: 'ES384', curve: 'P-384', hash: 'SHA-384', sig: 96 }],
  [ALG_ES512, { name: 'ES512', curve: 'P-521', hash: 'SHA-512', sig: 132 }],
  [ALG_EDDSA, { name: 'EdDSA', sig: 64 }],
]);

const isLabel = (k) => k.type === 'uint' || k.type === 'nint' || k.type === 'text';
const intOf = (k) => (k.type === 'uint' ? k.value : k.type === 'nint' ? -1n - k.value : null);
const sameLabel = (a, b) => a.type === b.type && (a.type === 'text' ? a.text === b.text : a.value === b.value);

function headerFind(map, label) {
  if (!map) return undefined;
  let found;
  for (const [k, v] of map.entries) {
    if (intOf(k) === label) {
      if (found) throw new CborError('ambiguous duplicate map key');
      found = v;
    }
  }
  return found;
}

// → {tagged, protectedRaw, protectedMap, unprotectedMap, payload, signature, alg}
export function parseSign1(input, limits) {
  let root = decode(input, limits, 0);
  let tagged = false;
  if (root.type === 'tag') {
    // RFC 9052 §4.2: "COSE_Sign1_Tagged = #6.18(COSE_Sign1)".
    if (root.tag !== 18n) throw new CborError('CBOR tag is not COSE_Sign1 (18)');
    tagged = true;
    root = root.child;
  }
  if (root.type !== 'array' || root.items.length !== 4) throw new CborError('COSE_Sign1 is not an array of 4');
  const [prot, unprot, payload, sig] = root.items;
  if (prot.type !== 'bytes') throw new CborError('COSE protected header is not a byte string');
  let protectedMap = null;
  if (prot.bytes.length > 0) {
    protectedMap = decode(prot.bytes, limits, 0);
    if (protectedMap.type !== 'map') throw new CborError('COSE protected header is not a map');
  }
  if (unprot.type !== 'map') throw new CborError('COSE unprotected header is not a map');
  let detached = false;
  if (payload.type === 'null') detached = true;
  else if (payload.type !== 'bytes') throw new CborError('COSE payload is neither a byte string nor nil');
  if (sig.type !== 'bytes') throw new CborError('COSE signature is not a byte string');
  for (const [k] of unprot.entries) if (!isLabel(k)) throw new CborError('COSE header label is not int or text');
  if (protectedMap) {
    for (const [k] of protectedMap.entries) {
      if (!isLabel(k)) throw new CborError('COSE header label is not int or text');
      for (const [k2] of unprot.entries) if (sameLabel(k, k2)) throw new CborError('COSE header label in both header buckets');
    }
  }
  // RFC 9052 §3.1, alg: "MUST be authenticated where the ability to do so exists."
  const a = headerFind(protectedMap, 1n), ua = headerFind(unprot, 1n);
  if (!a && ua) throw new CborError('COSE alg must be in the protected header');
  if (!a) throw new CborError('COSE alg missing');
  if (a.type === 'text') throw new CborError('unsupported COSE alg (text)', 'unsupported');
  if (a.type !== 'uint' && a.type !== 'nint') throw new CborError('COSE alg is not an integer');
  const alg = intOf(a);
  if (!ALGS.has(alg)) throw new CborError('unsupported COSE alg', 'unsupported');
  if (headerFind(protectedMap, 2n) || headerFind(unprot, 2n)) throw new CborError('COSE crit header not supported', 'unsupported');
  return {
    tagged, alg, detached, protectedRaw: prot.bytes, protectedMap, unprotectedMap: unprot,
    payload: detached ? null : payload.bytes, signature: sig.bytes,
  };
}

// RFC 9052 §4.4: ["Signature1", body_protected, external_aad, payload].
export function sigStructure(protectedRaw, payload, aad = new Uint8Array(0)) {
  const bstr = (b) => concat(encodeHead(2, b.length), b);
  const ctx = utf8('Signature1');
  return concat(encodeHead(4, 4), encodeHead(3, ctx.length), ctx, bstr(protectedRaw), bstr(aad), bstr(payload));
}

// Import a SubjectPublicKeyInfo for an alg; null if the key is not of that type.
export async function importSpki(alg, spki) {
  const a = ALGS.get(alg);
  try {
    if (alg === ALG_EDDSA) return await subtle.importKey('spki', spki, { name: 'Ed25519' }, false, ['verify']);
    return await subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: a.curve }, false, ['verify']);
  } catch {
    return null;
  }
}

// true when the signature verifies with `key` (a CryptoKey of the alg's type).
export async function verifySign1(msg, key) {
  if (msg.detached || !key) return false;
  const a = ALGS.get(msg.alg);
  if (msg.signature.length !== a.sig) return false;
  const tbs = sigStructure(msg.protectedRaw, msg.payload);
  const params = msg.alg === ALG_EDDSA ? { name: 'Ed25519' } : { name: 'ECDSA', hash: a.hash };
  try {
    return await subtle.verify(params, key, msg.signature, tbs);
  } catch {
    return false;
  }
}
