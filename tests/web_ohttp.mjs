// tests/web_ohttp.mjs — the page's OHTTP code (web/src/ohttp.js, @hpke/core)
// against RFC 9458 Appendix A (tests/vectors/ohttp-rfc9458.txt, the vector
// tests/test_ohttp.c uses): with the example's ephemeral key the encapsulated
// request is byte for byte the RFC's, the gateway side (@hpke/core as
// recipient with skR) opens it to the bhttp request, and the RFC's
// encapsulated response decrypts to its bhttp response; tampering any byte
// of the response is refused. Then an AES-256-GCM round trip (the suite the
// page uses) and the key-config decoder's refusals.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const ROOT = process.env.CCC_SOURCE_DIR || join(dirname(fileURLToPath(import.meta.url)), '..');
const LIB = await import(process.env.CCC_WEB_LIB || join(ROOT, 'build/web-lib/ccc-web.mjs'));
const o = LIB.ohttp, { equal, fromHex, toHex, utf8, concat } = LIB.bytes;
// @hpke/core itself plays the gateway: an independent recipient for our sender.
const req = createRequire(join(ROOT, 'tools/web/package.json'));
const { Aes128Gcm, Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } = await import(req.resolve('@hpke/core'));
const text = readFileSync(join(ROOT, 'tests/vectors/ohttp-rfc9458.txt'), 'utf8');
// Each value is the hex line that follows its label line.
function after(label) {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.startsWith(label));
  if (i < 0) throw new Error(`vector file lacks '${label}'`);
  for (let j = i + 1; j < lines.length; j++) if (/^[0-9a-f]+$/.test(lines[j].trim())) return fromHex(lines[j].trim());
  throw new Error(`no hex after '${label}'`);
}
let failed = 0;
const check = (ok, what) => { if (ok) console.log(`ok   ${what}`); else { failed++; console.log(`FAIL ${what}`); } };

const skR = after('Gateway X25519 secret key');
const keyConfig = after('Key configuration');
const request = after('Request, Binary HTTP');
const skE = after('Client ephemeral secret key');
const pkE = after('Client ephemeral public key');
const wantEncReq = after('Encapsulated Request');
const response = after('Response, Binary HTTP');
const wantSecret = after('Exported secret');
const encResponse = after('Encapsulated Response');

const cfg = o.decodeKeyConfig(keyConfig);
check(cfg.keyId === 1 && cfg.suites.length === 2 && cfg.suites[0].aeadId === 1 && cfg.suites[1].aeadId === 3, 'key config decodes (id 1, AES-128-GCM and ChaCha20-Poly1305)');
const { encRequest, state } = await o.encapsulateRequest(cfg, request, o.AEAD_AES128GCM, { sk: skE, pk: pkE });
check(equal(encRequest, wantEncReq), `encapsulated request equals RFC 9458 Appendix A (${encRequest.length} bytes)`);
check(equal(state.secret, wantSecret), 'exported response secret equals the RFC');

// Gateway side with @hpke/core as recipient.
const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });
const hdr = wantEncReq.subarray(0, 7);
const recipient = await suite.createRecipientContext({
  recipientKey: await suite.kem.importKey('raw', skR, false),
  enc: wantEncReq.subarray(7, 39),
  info: concat(utf8('message/bhttp request'), Uint8Array.of(0), hdr),
});
check(equal(new Uint8Array(await recipient.open(wantEncReq.subarray(39))), request), 'gateway opens the RFC request to its bhttp request');

const got = await o.decapsulateResponse(state, encResponse);
check(equal(got, response), `RFC encapsulated response decrypts to ${toHex(got)}`);
check(equal(await o.encapsulateResponseForTest(state, response, encResponse.subarray(0, 16)), encResponse), 'response encapsulation reproduces the RFC bytes');
let refused = 0;
for (let i = 0; i < encResponse.length; i++) {
  const t = encResponse.slice();
  t[i] ^= 0x80;
  try { await o.decapsulateResponse(state, t); } catch (e) { if (e.kind === 'crypto' || e.kind === 'parse') refused++; }
}
check(refused === encResponse.length, `every one of ${encResponse.length} modified response bytes refused`);

// The page's suite: AES-256-GCM, fresh ephemeral key, gateway round trip.
const cfg256 = { ...cfg, suites: [{ kdfId: 1, aeadId: 2 }] };
const photo = new Uint8Array(5000).map((_, i) => i * 7);
const r2 = await o.encapsulateRequest(cfg256, photo);
const suite2 = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
const rc2 = await suite2.createRecipientContext({
  recipientKey: await suite2.kem.importKey('raw', skR, false),
  enc: r2.encRequest.subarray(7, 39),
  info: concat(utf8('message/bhttp request'), Uint8Array.of(0), r2.encRequest.subarray(0, 7)),
});
check(r2.encRequest.length === photo.length + 55, 'AES-256-GCM request is request + 55 bytes');
check(equal(new Uint8Array(await rc2.open(r2.encRequest.subarray(39))), photo), 'AES-256-GCM request opens at the gateway');
const secret2 = new Uint8Array(await rc2.export(utf8('message/bhttp response'), 32));
const answer = utf8('{"count":1,"confidence":0.900,"model":"m"}');
const encResp2 = await o.encapsulateResponseForTest({ enc: r2.state.enc, secret: secret2, aeadId: 2 }, answer, new Uint8Array(32).fill(9));
check(equal(await o.decapsulateResponse(r2.state, encResp2), answer), 'AES-256-GCM response (32-byte nonce) decrypts');

// Key config refusals (src/ohttp rules).
const bad = (b, kind, what) => {
  try { o.decodeKeyConfig(b); check(false, what); } catch (e) { check(e.kind === kind, `${what} → ${e.kind}`); }
};
bad(keyConfig.subarray(0, 20), 'parse', 'truncated key config refused');
const k2 = keyConfig.slice(); k2[2] = 0x21; bad(k2, 'unsupported', 'unknown KEM refused');
const k3 = keyConfig.slice(); k3[36] = 6; bad(k3, 'parse', 'algorithms length not a multiple of 4 refused');
bad(concat(keyConfig, Uint8Array.of(0)), 'parse', 'trailing byte refused');
try { o.decodeKeyConfigs(concat(Uint8Array.of(0, k2.length), k2)); check(false, 'list of only unusable configs'); } catch (e) { check(e.kind === 'unsupported', 'a list with no usable config refused'); }
check(o.decodeKeyConfigs(concat(Uint8Array.of(0, k2.length), k2, Uint8Array.of(0, keyConfig.length), keyConfig)).length === 1, 'an unusable config in a list is skipped');
try { await o.encapsulateRequest(cfg, request, o.AEAD_AES256GCM); check(false, 'unoffered suite'); } catch (e) { check(e.kind === 'unsupported', 'encrypting with a suite the config does not offer refused'); }

if (failed) { console.log(`${failed} failure(s)`); process.exit(1); }
console.log('web_ohttp: all passed');
