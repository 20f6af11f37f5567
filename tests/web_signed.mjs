// tests/web_signed.mjs — the page's policy, receipt and document checks
// (web/src/signed.js, client.js) against what the C side writes: the
// receipt scenario of tests/receipt_fixture.c (a simulated-NSM document with
// the receipt key, a signed policy, a receipt for one job, look-alikes).
//   node tests/web_signed.mjs FIXTURE_DIR   (tests/web_signed.sh makes it)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = process.env.CCC_SOURCE_DIR || join(dirname(fileURLToPath(import.meta.url)), '..');
const LIB = await import(process.env.CCC_WEB_LIB || join(ROOT, 'build/web-lib/ccc-web.mjs'));
const { signed, client, trust, bytes: B, x509chain } = LIB;
const DIR = process.argv[2];
const rd = (f) => new Uint8Array(readFileSync(join(DIR, f)));
const txt = (f) => readFileSync(join(DIR, f), 'utf8');
let failed = 0;
const check = (ok, what) => { if (ok) console.log(`ok   ${what}`); else { failed++; console.log(`FAIL ${what}`); } };
async function refuses(p, what, kind) {
  try { await p; check(false, `${what} (accepted)`); } catch (e) { check(!kind || e.kind === kind, `${what}: ${e.message}`); }
}
class MemStore { constructor() { this.m = new Map(); } getItem(k) { return this.m.has(k) ? this.m.get(k) : null; } setItem(k, v) { this.m.set(k, String(v)); } removeItem(k) { this.m.delete(k); } }

// Anchors the way the page loads pinned ones (localStorage).
const store = new MemStore();
trust.writePinned(store, { root: txt('root.pem'), policyPub: txt('policy-pub.pem'), kmsPub: txt('policy-pub.pem'), pcr0: '' });
const anchors = await trust.loadAnchors(store);
check(anchors.source === 'pinned' && /^[0-9a-f]{64}$/.test(anchors.fingerprints.root), 'pinned anchors load with fingerprints');
await refuses(trust.checkAnchor('root', txt('policy-pub.pem')), 'a public key offered as the root is refused');
await refuses(trust.checkAnchor('policyPub', txt('root.pem')), 'a certificate offered as the policy key is refused');

// Policy bundle: signature, canonical payload, anti-rollback.
const policy = await signed.verifyPolicy(rd('policy.cbor'), anchors.policyKey);
check(policy.version === 1n && policy.sets.length === 1 && policy.manifests.length === 1, 'policy v1 verifies with the policy key');
const other = await signed.verifyPolicy(rd('other-policy.cbor'), anchors.policyKey);
check(other.version === 2n, 'policy v2 verifies');
const rbStore = new MemStore();
check(signed.policyRollbackCheck(rbStore, 'x', policy.version, policy.sha256).recorded, 'v1 recorded');
check(signed.policyRollbackCheck(rbStore, 'x', policy.version, policy.sha256).recorded === false, 'v1 again accepted');
check(signed.policyRollbackCheck(rbStore, 'x', other.version, other.sha256).recorded, 'v2 recorded');
await refuses((async () => signed.policyRollbackCheck(rbStore, 'x', policy.version, policy.sha256))(), 'v1 after v2 refused (rollback)', 'replay');
await refuses((async () => signed.policyRollbackCheck(rbStore, 'x', other.version, policy.sha256))(), 'v2 with other content refused (equivocation)', 'replay');
const wrongKey = await signed.ed25519FromSpki(B.pemDecode(txt('policy-pub.pem'), 'PUBLIC KEY').map((x, i) => (i === 20 ? x ^ 1 : x)), 'k').catch(() => null);
if (wrongKey) await refuses(signed.verifyPolicy(rd('policy.cbor'), wrongKey), 'policy under another key refused', 'crypto');
const pb = rd('policy.cbor');
let pbRefused = 0;
for (let i = 0; i < pb.length; i++) {
  const t = pb.slice(); t[i] ^= 0x04;
  try { await signed.verifyPolicy(t, anchors.policyKey); } catch { pbRefused++; }
}
check(pbRefused === pb.length, `every one of ${pb.length} modified policy bytes refused`);

// The document: chain at now, the policy's PCRs, PCR16/PCR17 bindings.
const docBytes = rd('doc.cbor');
const checked = await client.checkDocument(docBytes, anchors, policy, Date.now());
check(checked.matchedSet === 0 && checked.pcrs.some((p) => p.index === 17), 'document verifies: chain, PCR set, PCR16 model, PCR17 policy, receipt key');
await refuses(client.checkDocument(docBytes, anchors, other, Date.now()), 'document under another policy refused (PCR17)');
await refuses(client.checkDocument(docBytes, { ...anchors, pcr0: new Uint8Array(48) }, policy, Date.now()), 'document with another PCR0 than pinned refused');
await refuses(client.checkDocument(docBytes, anchors, policy, Date.now() + 30 * 24 * 3600e3), 'document a month later refused (leaf expired)');
const aws = x509chain.rootFromDer(B.pemDecode(readFileSync(join(ROOT, 'tests/vectors/nitro/aws-nitro-root-g1.pem'), 'utf8'), 'CERTIFICATE'));
await refuses(client.checkDocument(docBytes, { ...anchors, root: aws }, policy, Date.now()), 'simulated document against the AWS root refused');

// The receipt: every binding.
const receiptBytes = rd('receipt.cbor');
const receipt = signed.parseReceipt(receiptBytes);
const saltHex = new TextDecoder().decode(rd('answer-salt')).trim();
const answerSalt = Uint8Array.from(saltHex.match(/../g).map((h) => parseInt(h, 16)));
const expect = { jobId: 'job-7f3a', request: rd('request.bin'), answer: rd('answer.json'), answerSalt, policySha256: policy.sha256, manifests: policy.manifests };
check(await signed.verifyReceipt(receipt, checked.doc, expect), 'receipt verifies with all expectations');
check(client.parseAnswer(rd('answer.json')).count === 1, 'the fixture answer parses (count 1, one box)');
const otherDoc = (await client.checkDocument(rd('other-doc.cbor'), anchors, policy, Date.now())).doc;
await refuses(signed.verifyReceipt(receipt, otherDoc, expect), 'receipt against a later document with the same key refused', 'policy');
await refuses(signed.verifyReceipt(receipt, checked.doc, { ...expect, answerSalt: new Uint8Array(32) }), 'the right answer with another salt refused (the commitment is salted)', 'policy');
await refuses(signed.verifyReceipt(receipt, checked.doc, { ...expect, jobId: 'job-other' }), 'receipt for another job id refused', 'policy');
await refuses(signed.verifyReceipt(receipt, checked.doc, { ...expect, request: B.utf8('x') }), 'receipt for another request refused', 'policy');
await refuses(signed.verifyReceipt(receipt, checked.doc, { ...expect, answer: B.utf8('{"count":2}') }), 'receipt for another answer refused', 'policy');
await refuses(signed.verifyReceipt(receipt, checked.doc, { ...expect, policySha256: other.sha256 }), 'receipt for another policy refused', 'policy');
await refuses(signed.verifyReceipt(receipt, checked.doc, { ...expect, manifests: [new Uint8Array(32)] }), 'receipt for a model the policy does not list refused', 'policy');
let rRefused = 0;
for (let i = 0; i < receiptBytes.length; i++) {
  const t = receiptBytes.slice(); t[i] ^= 0x01;
  try { await signed.verifyReceipt(signed.parseReceipt(t), checked.doc, expect); } catch { rRefused++; }
}
check(rRefused === receiptBytes.length, `every one of ${receiptBytes.length} modified receipt bytes refused`);
let cut = 0;
for (let n = 0; n < receiptBytes.length; n++) { try { signed.parseReceipt(receiptBytes.subarray(0, n)); } catch { cut++; } }
check(cut === receiptBytes.length, 'every truncation of the receipt refused');

// The answer grammar.
for (const bad of ['{"count":1}', '{"count":1,"confidence":0.9,"model":"m"}', '{"count":01,"confidence":0.900,"model":"m"}', '{"count":1,"confidence":0.900,"model":"M"}', ' {"count":1,"confidence":0.900,"model":"m"}'])
  await refuses((async () => client.parseAnswer(B.utf8(bad)))(), `answer ${JSON.stringify(bad)} refused`);

if (failed) { console.log(`${failed} failure(s)`); process.exit(1); }
console.log('web_signed: all passed');
