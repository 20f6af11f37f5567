// ohttp.js — Oblivious HTTP message encapsulation (RFC 9458 §4.3, §4.4) with
// @hpke/core: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM or
// AES-256-GCM (docs/protocol.md §1-§4). Key configurations are decoded with
// the rules of src/ohttp (§3).

import { Aes128Gcm, Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { concat, subtle, utf8 } from './bytes.js';

export const KEM_X25519 = 0x0020, KDF_HKDF_SHA256 = 0x0001;
export const AEAD_AES128GCM = 0x0001, AEAD_AES256GCM = 0x0002, AEAD_CHACHA20 = 0x0003;
const AEADS = { [AEAD_AES128GCM]: { Nk: 16, Nn: 12, make: () => new Aes128Gcm() }, [AEAD_AES256GCM]: { Nk: 32, Nn: 12, make: () => new Aes256Gcm() } };
const MAX_ALGS = 16;

export class OhttpError extends Error {
  constructor(msg, kind = 'parse') { super(msg); this.kind = kind; }
}

function reader(b) {
  let p = 0;
  return {
    u8() { if (p + 1 > b.length) throw new OhttpError('key config truncated'); return b[p++]; },
    u16() { if (p + 2 > b.length) throw new OhttpError('key config truncated'); const v = (b[p] << 8) | b[p + 1]; p += 2; return v; },
    take(n) { if (p + n > b.length) throw new OhttpError('key config truncated'); const s = b.subarray(p, p + n); p += n; return s; },
    done() { return p === b.length; },
  };
}

// One Key Config (RFC 9458 §3): key_id, kem_id, public key, (kdf, aead) pairs.
export function decodeKeyConfig(bytes) {
  const r = reader(bytes);
  const keyId = r.u8(), kemId = r.u16();
  if (kemId !== KEM_X25519) throw new OhttpError('unsupported OHTTP KEM', 'unsupported');
  const publicKey = r.take(32);
  const algsSize = r.u16();
  if (algsSize < 4 || algsSize % 4) throw new OhttpError('bad symmetric algorithms length');
  if (algsSize / 4 > MAX_ALGS) throw new OhttpError('too many symmetric algorithms', 'limit');
  const a = reader(r.take(algsSize));
  const suites = [];
  while (!a.done()) suites.push({ kdfId: a.u16(), aeadId: a.u16() });
  if (!r.done()) throw new OhttpError('trailing bytes after a key config');
  return { keyId, kemId, publicKey, suites, raw: bytes };
}

// application/ohttp-keys (§3.2): u16 length || Key Config, repeated. A client
// ignores configurations it cannot use; none usable is an error.
export function decodeKeyConfigs(bytes, maxCount = 4) {
  const r = reader(bytes);
  const out = [];
  while (!r.done()) {
    const one = r.take(r.u16());
    let cfg;
    try {
      cfg = decodeKeyConfig(one);
    } catch (e) {
      if (e instanceof OhttpError && e.kind === 'unsupported') continue;
      throw e;
    }
    if (out.length >= maxCount) throw new OhttpError('too many key configs', 'limit');
    out.push(cfg);
  }
  if (!out.length) throw new OhttpError('no usable key config', 'unsupported');
  return out;
}

function suiteFor(aeadId) {
  const a = AEADS[aeadId];
  if (!a) throw new OhttpError('unsupported OHTTP suite', 'unsupported');
  return { a, suite: new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: a.make() }) };
}

/*
 * §4.3: hdr = key_id || kem_id || kdf_id || aead_id; info = "message/bhttp
 * request" || 0x00 || hdr; enc_request = hdr || enc || Seal(aad = "", request).
 * `cfg` must offer (kdfId, aeadId). `testEphemeral` ({sk, pk} raw bytes) only
 * for known-answer tests. → {encRequest, state} (state opens the response).
 */
export async function encapsulateRequest(cfg, request, aeadId = AEAD_AES256GCM, testEphemeral = null) {
  if (!cfg.suites.some((s) => s.kdfId === KDF_HKDF_SHA256 && s.aeadId === aeadId))
    throw new OhttpError('key config does not offer the suite', 'unsupported');
  const { a, suite } = suiteFor(aeadId);
  const hdr = Uint8Array.of(cfg.keyId, KEM_X25519 >> 8, KEM_X25519 & 255, 0, KDF_HKDF_SHA256, 0, aeadId);
  const info = concat(utf8('message/bhttp request'), Uint8Array.of(0), hdr);
  const recipientPublicKey = await suite.kem.importKey('raw', cfg.publicKey, true);
  const params = { recipientPublicKey, info };
  if (testEphemeral) {
    params.ekm = {
      privateKey: await suite.kem.importKey('raw', testEphemeral.sk, false),
      publicKey: await suite.kem.importKey('raw', testEphemeral.pk, true),
    };
  }
  const sender = await suite.createSenderContext(params);
  const ct = new Uint8Array(await sender.seal(request));
  const enc = new Uint8Array(sender.enc);
  // §4.4: secret = context.Export("message/bhttp response", max(Nn, Nk)).
  const secret = new Uint8Array(await sender.export(utf8('message/bhttp response'), Math.max(a.Nn, a.Nk)));
  // The salt of the receipt's answer commitment (src/receipt/receipt.h).
  const answerSalt = new Uint8Array(await sender.export(utf8('ccc receipt answer salt'), 32));
  return { encRequest: concat(hdr, enc, ct), state: { enc, secret, aeadId, answerSalt } };
}

async function hkdf(secret, salt, info, bytes) {
  const ikm = await subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: utf8(info) }, ikm, bytes * 8));
}

/*
 * §4.4: enc_response = nonce_r || ct; salt = enc || nonce_r;
 * prk = Extract(salt, secret); key = Expand(prk, "key", Nk);
 * nonce = Expand(prk, "nonce", Nn); response = Open(key, nonce, "", ct).
 */
export async function decapsulateResponse(state, encResponse) {
  const a = AEADS[state.aeadId];
  const nlen = Math.max(a.Nn, a.Nk);
  if (encResponse.length < nlen + 16) throw new OhttpError('encapsulated response too short');
  const nonceR = encResponse.subarray(0, nlen);
  const salt = concat(state.enc, nonceR);
  const key = await hkdf(state.secret, salt, 'key', a.Nk);
  const nonce = await hkdf(state.secret, salt, 'nonce', a.Nn);
  const k = await subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt']);
  try {
    return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: nonce, tagLength: 128 }, k, encResponse.subarray(nlen)));
  } catch {
    throw new OhttpError('response does not decrypt', 'crypto');
  } finally {
    key.fill(0);
  }
}

// Gateway side (tests only): seal a response for `state` with a given nonce.
export async function encapsulateResponseForTest(state, response, nonceR) {
  const a = AEADS[state.aeadId];
  const salt = concat(state.enc, nonceR);
  const key = await hkdf(state.secret, salt, 'key', a.Nk);
  const nonce = await hkdf(state.secret, salt, 'nonce', a.Nn);
  const k = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
  return concat(nonceR, new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: nonce }, k, response)));
}
