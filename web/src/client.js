// client.js — one job, every check of docs/protocol.md §12 in order, the
// same as `ccc count`: nothing is sent before the key configuration, the
// policy and every attestation document the host offers have verified.
//
//   runJob({photo, anchors, storage, fetch, onStep, baseUrl, now}) → result
//
// onStep(id, state, text) with state 'active' | 'done' | 'failed'.
// Throws JobError {step, message} on the first failure.

import { verifyAttestation } from './attest.js';
import { CheckError, extendFromZero, parseReceipt, policyRollbackCheck, verifyKmsConfig, verifyPolicy, verifyReceipt } from './signed.js';
import { AEAD_AES256GCM, decapsulateResponse, encapsulateRequest } from './ohttp.js';
import { equal, fromB64, toHex, webcrypto } from './bytes.js';

// [id, label, label when it failed]
export const STEPS = [
  ['config', 'Configuration fetched', 'Configuration not usable'],
  ['kms', 'Key signature verified', 'Key configuration refused'],
  ['policy', 'Policy verified', 'Policy refused'],
  ['attest', 'Attestation verified', 'Attestation refused'],
  ['encrypt', 'Photo encrypted', 'Photo not encrypted'],
  ['queued', 'Queued', 'Job not accepted'],
  ['processing', 'Processing in the enclave', 'Processing failed'],
  ['decrypt', 'Answer decrypted', 'Answer refused'],
  ['receipt', 'Receipt verified', 'Receipt refused'],
];
// Steps after which the encrypted photo has left the page.
export const SENT_AFTER = new Set(['queued', 'processing', 'decrypt', 'receipt']);

export class JobError extends Error {
  constructor(step, message) { super(message); this.step = step; }
}

const ED25519_SPKI_PREFIX = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00);
const MAX_WAIT_MS = 180 * 1000;

// The answer grammar of src/egress (docs/protocol.md §8), exactly.
const MILLI = '(?:0|1)\\.\\d{3}';
const BOX = `\\[${MILLI},${MILLI},${MILLI},${MILLI},${MILLI}\\]`;
const ANSWER_RE = new RegExp(`^\\{"count":(0|[1-9]\\d{0,5}),"confidence":(${MILLI})(?:,"boxes":\\[((?:${BOX}(?:,${BOX})*)?)\\])?,"model":"([a-z0-9._-]{1,32})"\\}$`);

export function parseAnswer(bytes) {
  let text;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { text = ''; }
  if (!ANSWER_RE.test(text)) throw new Error('the decrypted answer is not in the answer format');
  const a = JSON.parse(text);
  return { count: a.count, confidence: a.confidence, boxes: a.boxes || null, model: a.model, text };
}

function hexPcrs(doc, indices) {
  return indices.filter((i) => doc.pcrs.has(i)).map((i) => ({ index: i, hex: toHex(doc.pcrs.get(i)) }));
}

/*
 * One attestation document, fully: chain at `now`, PCR sets of the policy,
 * debug refusal, then PCR16 = extend(0, a manifest the policy lists), PCR17 =
 * extend(0, policy hash), the pinned PCR0 if any, and an Ed25519 receipt key.
 */
export async function checkDocument(bytes, anchors, policy, now) {
  const r = await verifyAttestation(bytes, anchors.root, { sets: policy.sets, atMs: now });
  if (r.result !== 'CCC_ATTEST_OK') throw new Error(`attestation refused: ${r.detail} [${r.result}]`);
  const doc = r.doc;
  const p17 = doc.pcrs.get(17);
  if (!p17 || !equal(p17, await extendFromZero(policy.sha256)))
    throw new Error('attestation PCR17 is not extend(0, policy hash): the enclave runs another policy');
  const p16 = doc.pcrs.get(16);
  let model = null;
  for (const m of policy.manifests) if (p16 && equal(p16, await extendFromZero(m))) model = m;
  if (!model) throw new Error('attestation PCR16 is not extend(0, a model manifest the policy lists)');
  if (anchors.pcr0 && !equal(doc.pcrs.get(0), anchors.pcr0)) throw new Error('attestation PCR0 is not the PCR0 you pinned');
  if (!doc.publicKey || doc.publicKey.length !== 44 || !equal(doc.publicKey.subarray(0, 12), ED25519_SPKI_PREFIX))
    throw new Error('attestation public_key is not an Ed25519 receipt key');
  return { doc, report: r, model, pcrs: hexPcrs(doc, [0, 1, 2, 16, 17]), matchedSet: r.matchedSet };
}

async function getJson(fetchFn, url, what) {
  let resp;
  try {
    resp = await fetchFn(url, { cache: 'no-store', credentials: 'omit' });
  } catch {
    throw new Error(`${what}: the service cannot be reached`);
  }
  let body = null;
  try { body = await resp.json(); } catch { body = null; }
  return { status: resp.status, body, headers: resp.headers };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function randomJobId() {
  const b = new Uint8Array(16);
  webcrypto.getRandomValues(b);
  return toHex(b);
}

export async function runJob({ photo, anchors, storage, fetch: fetchFn = globalThis.fetch.bind(globalThis), onStep = () => {}, baseUrl = '', now = () => Date.now(), pollMs = 400 }) {
  let step = 'config';
  const go = (id, text) => { step = id; onStep(id, 'active', text); };
  const ok = (id, text) => onStep(id, 'done', text);
  const out = {};
  try {
    if (!anchors || anchors.source === 'none')
      throw new Error('no trust anchors: pin the attestation root, the policy key and the key service key first');

    go('config', 'GET /v1/config');
    const cfg = await getJson(fetchFn, `${baseUrl}/v1/config`, 'configuration');
    if (cfg.status !== 200 || !cfg.body) throw new Error(`the service answered ${cfg.status} to GET /v1/config${cfg.body && cfg.body.message ? `: ${cfg.body.message}` : ''}`);
    const c = cfg.body;
    if (c.v !== 1 || typeof c.kms_config !== 'string' || typeof c.policy !== 'string' || !Array.isArray(c.attestations))
      throw new Error('the configuration is not version 1 with kms_config, policy and attestations');
    let kmsBytes, policyBytes, docs;
    try {
      kmsBytes = fromB64(c.kms_config);
      policyBytes = fromB64(c.policy);
      docs = c.attestations.map(fromB64);
    } catch {
      throw new Error('the configuration holds a field that is not base64');
    }
    if (!docs.length) throw new Error('no enclave is ready (the configuration lists no attestation document)');
    ok('config', `${docs.length} enclave${docs.length > 1 ? 's' : ''} offered`);

    go('kms', 'checking the key configuration signature');
    const kms = await verifyKmsConfig(kmsBytes, anchors.kmsKey).catch((e) => {
      if (e.kind === 'crypto') e.message += ` (anchors ${anchors.source}; if this service was set up anew, pin its new anchors)`;
      throw e;
    });
    out.kms = kms;
    ok('kms', `signed by the pinned key service key; key id ${kms.keys[0].keyId}`);

    go('policy', 'checking the policy signature');
    const policy = await verifyPolicy(policyBytes, anchors.policyKey);
    if (!equal(policy.sha256, kms.policySha256)) throw new Error('the policy is not the one the key service enforces (hash differs from the key configuration)');
    // Per policy signer, like ccc count's policy-state-<K>: K = the first 16
    // hex digits of SHA-256 of the policy key's SubjectPublicKeyInfo.
    const rb = policyRollbackCheck(storage, anchors.fingerprints.policyPub.slice(0, 16), policy.version, policy.sha256);
    out.policy = policy;
    ok('policy', `signed by the pinned policy key, enforced by the key service${rb.previous !== null && rb.previous !== policy.version ? `; newer than v${rb.previous} seen before` : ''}`);
    onStep('policy', 'label', `Policy v${policy.version} verified`);

    go('attest', `checking ${docs.length} attestation document${docs.length > 1 ? 's' : ''}`);
    const checked = [];
    for (let i = 0; i < docs.length; i++) {
      try {
        checked.push(await checkDocument(docs[i], anchors, policy, now()));
      } catch (e) {
        throw new Error(docs.length > 1 ? `enclave ${i + 1} of ${docs.length}: ${e.message}` : e.message);
      }
    }
    out.attestations = checked;
    const first = checked[0];
    ok('attest', `matches measurement set ${first.matchedSet}: ${first.pcrs.map((p) => `PCR${p.index} ${p.hex.slice(0, 12)}…`).join(', ')}`);

    if (photo.length + 55 > Number(policy.maxBodyBytes))
      throw new JobError('encrypt', `the photo is larger than the service accepts (${Number(policy.maxBodyBytes) - 55} bytes)`);
    go('encrypt', 'HPKE X25519 / AES-256-GCM');
    const keyCfg = kms.keys[0];
    const { encRequest, state } = await encapsulateRequest(keyCfg, photo, AEAD_AES256GCM);
    out.encRequest = encRequest;
    ok('encrypt', `${encRequest.length} bytes to key ${keyCfg.keyId}`);

    go('queued', 'POST /v1/jobs');
    const jobId = randomJobId();
    let post;
    try {
      post = await fetchFn(`${baseUrl}/v1/jobs`, { method: 'POST', body: encRequest, headers: { 'Content-Type': 'message/ohttp-req', 'CCC-Job-Id': jobId }, credentials: 'omit' });
    } catch {
      throw new Error('the service cannot be reached');
    }
    let pb = null;
    try { pb = await post.json(); } catch { pb = null; }
    if (post.status !== 202 && post.status !== 200) {
      const retry = post.headers.get('Retry-After');
      throw new Error(`the service refused the job: ${post.status} ${pb && pb.error ? pb.error : ''}${pb && pb.message ? ` (${pb.message})` : ''}${retry ? `; retry after ${retry} s` : ''}`);
    }
    if (!pb || pb.id !== jobId) throw new Error('the service answered with another job id');
    out.jobId = jobId;
    go('queued', `job ${jobId.slice(0, 8)}…, waiting for the enclave`);

    const t0 = now();
    let done = null, sawProcessing = false;
    while (!done) {
      if (now() - t0 > MAX_WAIT_MS) throw new Error('no answer after 3 minutes');
      await sleep(pollMs);
      // ?delete=1: the host drops the (encrypted) result once it has handed it over.
      const g = await getJson(fetchFn, `${baseUrl}/v1/jobs/${jobId}?delete=1`, 'job status');
      const b = g.body || {};
      if (g.status === 200 && (b.status === 'queued' || b.status === 'processing')) {
        if (b.status === 'processing' && !sawProcessing) { sawProcessing = true; ok('queued', `job ${jobId.slice(0, 8)}…`); go('processing', `attempt ${b.attempt || 1}`); }
        continue;
      }
      if (g.status === 200 && b.status === 'done') { done = b; break; }
      if (b.status === 'failed') {
        if (!sawProcessing) { ok('queued', `job ${jobId.slice(0, 8)}…`); go('processing', ''); }
        throw new Error(`the enclave refused the job: ${b.error || 'unknown class'}`);
      }
      throw new Error(`the service answered ${g.status} for the job${b.error ? ` (${b.error})` : ''}`);
    }
    if (!sawProcessing) { ok('queued', `job ${jobId.slice(0, 8)}…`); go('processing', ''); }
    ok('processing', `${((now() - t0) / 1000).toFixed(1)} s`);

    go('decrypt', 'opening the answer');
    let encResponse, receiptBytes, docBytes;
    try {
      encResponse = fromB64(done.response);
      receiptBytes = fromB64(done.receipt);
      docBytes = fromB64(done.attestation);
    } catch {
      throw new Error('the job result holds a field that is not base64');
    }
    let answerBytes;
    try {
      answerBytes = await decapsulateResponse(state, encResponse);
    } catch {
      throw new Error('the answer does not decrypt with this request\'s key');
    }
    const answer = parseAnswer(answerBytes);
    out.answer = answer;
    out.answerBytes = answerBytes;
    ok('decrypt', `${answer.count} ${answer.count === 1 ? 'cat' : 'cats'}`);

    go('receipt', 'checking the receipt and the document that signed it');
    const signer = await checkDocument(docBytes, anchors, policy, now());
    const receipt = parseReceipt(receiptBytes);
    await verifyReceipt(receipt, signer.doc, { jobId, request: encRequest, answer: answerBytes, answerSalt: state.answerSalt, policySha256: policy.sha256, manifests: policy.manifests });
    if (!equal(signer.doc.pcrs.get(16), await extendFromZero(receipt.modelSha256)))
      throw new Error('the receipt names another model than the one measured into PCR16');
    out.receipt = receipt;
    out.receiptBytes = receiptBytes;
    out.signerDoc = docBytes;
    out.signer = signer;
    ok('receipt', `seq ${receipt.seq}, signed by the attested enclave key`);
    return out;
  } catch (e) {
    const s = e instanceof JobError ? e.step : step;
    const msg = e instanceof CheckError || e instanceof Error ? e.message : String(e);
    onStep(s, 'failed', msg);
    throw new JobError(s, msg);
  }
}
