// tests/web_client.mjs — the page's job flow (web/src/client.js runJob) under
// Node against the running local stack, with faults injected between the
// page and the host by a fetch wrapper: every refusal must stop at its step
// with its message, and nothing may be POSTed when the refusal comes before
// encryption. Started by tests/web_e2e.sh (CCC_URL, CCC_TRUST, CCC_WEB_LIB,
// CCC_WORK).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const LIB = await import(process.env.CCC_WEB_LIB);
const { client, trust, bytes: B } = LIB;
const URL0 = process.env.CCC_URL, TRUST = process.env.CCC_TRUST, WORK = process.env.CCC_WORK;
let failed = 0;
const check = (ok, what) => { if (ok) console.log(`ok   ${what}`); else { failed++; console.log(`FAIL ${what}`); } };
class MemStore { constructor() { this.m = new Map(); } getItem(k) { return this.m.has(k) ? this.m.get(k) : null; } setItem(k, v) { this.m.set(k, String(v)); } removeItem(k) { this.m.delete(k); } }

const store = new MemStore();
const pem = (f) => readFileSync(join(TRUST, f), 'utf8');
trust.writePinned(store, { root: pem('root.pem'), policyPub: pem('policy-pub.pem'), kmsPub: pem('kms-pub.pem') });
const anchors = await trust.loadAnchors(store);
const photo = new Uint8Array(readFileSync(join(WORK, 'chelsea-left-300.png')));

// fetch that lets a case rewrite JSON answers; counts POSTs.
function faulty(rewrite) {
  const f = async (url, init = {}) => {
    if ((init.method || 'GET') === 'POST') f.posts++;
    const r = await fetch(url, init);
    const path = new URL(url).pathname;
    if (!rewrite || !(r.headers.get('content-type') || '').includes('json')) return r;
    const j = await r.json();
    const out = rewrite(path, j, r.status);
    if (out === undefined) return new Response(JSON.stringify(j), { status: r.status, headers: r.headers });
    return new Response(JSON.stringify(out.body), { status: out.status || r.status, headers: { 'content-type': 'application/json' } });
  };
  f.posts = 0;
  return f;
}
const flip = (b64, at = -5) => { const d = B.fromB64(b64); d[(d.length + at) % d.length] ^= 1; return B.toB64(d); };

async function run(name, rewrite, wantStep, wantMsg, wantPosts) {
  const f = faulty(rewrite);
  const steps = [];
  try {
    const out = await client.runJob({ photo, anchors, storage: store, fetch: f, onStep: (id, st) => steps.push(`${id}:${st}`), baseUrl: URL0, pollMs: 150 });
    if (wantStep === null) return out;
    check(false, `${name}: accepted (count ${out.answer.count})`);
  } catch (e) {
    if (wantStep === null) { check(false, `${name}: ${e.message}`); return null; }
    check(e.step === wantStep && wantMsg.test(e.message) && f.posts === wantPosts,
      `${name}: stops at ${e.step} (${f.posts} POST): ${e.message}`);
  }
  return null;
}

const out = await run('the real service', null, null);
check(out && out.answer.count === 1 && out.receipt.jobId === out.jobId, `untouched: ${out ? out.answer.count : '?'} cat, receipt for job ${out ? out.jobId.slice(0, 8) : '?'}…`);

const cfg = (fn) => (p, j) => (p === '/v1/config' ? fn(j) : undefined);
await run('config unavailable', (p, j) => (p === '/v1/config' ? { status: 503, body: { error: 'io', message: 'no enclave ready' } } : undefined), 'config', /503.*no enclave ready/, 0);
await run('config version 2', cfg((j) => ({ body: { ...j, v: 2 } })), 'config', /not version 1/, 0);
await run('config field not base64', cfg((j) => ({ body: { ...j, policy: 'not base64!' } })), 'config', /not base64/, 0);
await run('no attestation', cfg((j) => ({ body: { ...j, attestations: [] } })), 'config', /no enclave is ready/, 0);
await run('key configuration modified', cfg((j) => ({ body: { ...j, kms_config: flip(j.kms_config) } })), 'kms', /does not verify with the pinned key/, 0);
await run('policy modified', cfg((j) => ({ body: { ...j, policy: flip(j.policy) } })), 'policy', /policy bundle/, 0);
await run('attestation modified', cfg((j) => ({ body: { ...j, attestations: j.attestations.map((a) => flip(a)) } })), 'attest', /attestation refused/, 0);
await run('a second, forged attestation', cfg((j) => ({ body: { ...j, attestations: [...j.attestations, flip(j.attestations[0], 200)] } })), 'attest', /enclave 2 of 2/, 0);
await run('job refused by the service', (p, j, s) => (p === '/v1/jobs' ? { status: 429, body: { error: 'busy', message: 'rate limited' } } : undefined), 'queued', /refused the job: 429 busy/, 1);
await run('job failed in the enclave', (p, j) => (p.startsWith('/v1/jobs/') && j.status === 'done' ? { status: 400, body: { id: j.id, status: 'failed', error: 'crypto' } } : undefined), 'processing', /enclave refused the job: crypto/, 1);
await run('answer modified', (p, j) => (p.startsWith('/v1/jobs/') && j.status === 'done' ? { body: { ...j, response: flip(j.response) } } : undefined), 'decrypt', /does not decrypt/, 1);
await run('receipt for another document', (p, j) => (p.startsWith('/v1/jobs/') && j.status === 'done' ? { body: { ...j, attestation: flip(j.attestation) } } : undefined), 'receipt', /attestation refused/, 1);
await run('receipt modified', (p, j) => (p.startsWith('/v1/jobs/') && j.status === 'done' ? { body: { ...j, receipt: flip(j.receipt, -70) } } : undefined), 'receipt', /receipt signature/, 1);
await run('receipt from another job', (p, j) => (p.startsWith('/v1/jobs/') && j.status === 'done' ? { body: { ...j, receipt: B.toB64(out.receiptBytes) } } : undefined), 'receipt', /receipt/, 1);

if (failed) { console.log(`${failed} failure(s)`); process.exit(1); }
console.log('web_client: all passed');
