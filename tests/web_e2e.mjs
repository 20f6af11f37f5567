// tests/web_e2e.mjs — the page in Debian's Chromium (playwright-core,
// headless) against a running local stack. Started by tests/web_e2e.sh,
// which brings the stack up and passes:
//   CCC_URL         the host (serves the unbaked page: anchors pinned in the UI)
//   CCC_TRUST       the stack's trust directory (root.pem, policy-pub.pem, kms-pub.pem)
//   CCC_BAKED_WEB   a page bundle with those anchors baked in (served by the proxy)
//   CCC_HOST_LOG    the host's request log
//   CCC_WORK        scratch directory (photos, downloads)
//   CCC_SHOTS       where screenshots go (build/web-screenshots)
//   CCC_BIN         the ccc binary (image ppm, receipt verify)
// Cases: a cat (left 300×300 of chelsea.png, made here) dropped on the page →
// "1 cat", receipt verified, receipt and attestation downloaded and accepted
// by `ccc receipt verify`; a photo with no cat picked by keyboard → "0 cats";
// refusals before anything is sent (not an image, too small); a host whose
// /v1/config carries a tampered attestation (a proxy here) → the page stops
// at the attestation step and the host logs no POST /v1/jobs; screenshots at
// 1280×800 and 390×844; no console errors anywhere.
import { createServer, request as httpRequest } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, mkdtempSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { deflateSync } from 'node:zlib';
import { join, extname } from 'node:path';
import { tmpdir } from 'node:os';

const ROOT = process.env.CCC_SOURCE_DIR;
const env = (k) => { const v = process.env[k]; if (!v) { console.log(`FAIL: ${k} not set (run tests/web_e2e.sh)`); process.exit(1); } return v; };
const URL0 = env('CCC_URL'), TRUST = env('CCC_TRUST'), BAKED = env('CCC_BAKED_WEB'), HOST_LOG = env('CCC_HOST_LOG');
const WORK = env('CCC_WORK'), SHOTS = env('CCC_SHOTS'), CCC = env('CCC_BIN');
const req = createRequire(join(ROOT, 'tools/web/package.json'));
const { chromium } = req('playwright-core');

let failed = 0;
const check = (ok, what) => { if (ok) console.log(`ok   ${what}`); else { failed++; console.log(`FAIL ${what}`); } };
mkdirSync(SHOTS, { recursive: true });

// ---- photos ---------------------------------------------------------------------
const CRC = new Int32Array(256).map((_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c; });
const crc32 = (b) => { let c = -1; for (const x of b) c = CRC[(c ^ x) & 255] ^ (c >>> 8); return (c ^ -1) >>> 0; };
function png(w, h, rgb) {
  const chunk = (type, data) => {
    const t = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(t));
    return Buffer.concat([len, t, crc]);
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc(h * (1 + 3 * w));
  for (let y = 0; y < h; y++) rgb.copy(raw, y * (1 + 3 * w) + 1, y * 3 * w, (y + 1) * 3 * w);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
function readPpm(path) {
  const b = readFileSync(path);
  const m = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(b.subarray(0, 64).toString('latin1'));
  if (!m) throw new Error('not a P6 PPM');
  return { w: +m[1], h: +m[2], px: b.subarray(m[0].length) };
}
execFileSync(CCC, ['image', 'ppm', join(ROOT, 'data/samples/chelsea.png'), join(WORK, 'chelsea.ppm')]);
const ch = readPpm(join(WORK, 'chelsea.ppm'));
const side = 300, crop = Buffer.alloc(side * side * 3);
for (let y = 0; y < side; y++) ch.px.copy(crop, y * side * 3, y * ch.w * 3, y * ch.w * 3 + side * 3);
const catPng = join(WORK, 'chelsea-left-300.png');
writeFileSync(catPng, png(side, side, crop));
const noCat = join(ROOT, 'data/samples/coffee.png');
writeFileSync(join(WORK, 'notes.png'), 'this is text, not a PNG');
writeFileSync(join(WORK, 'tiny.png'), png(8, 8, Buffer.alloc(8 * 8 * 3, 200)));

// ---- the tampering proxy ------------------------------------------------------------
// Serves the baked page itself and forwards /v1/* to the host; in
// GET /v1/config it flips one byte of every attestation document.
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
const host = new URL(URL0);
let tamper = 'attestation'; // or 'receipt': flip a byte of the receipt in a done job
const proxy = createServer((rq, rs) => {
  if (!rq.url.startsWith('/v1/')) {
    const name = rq.url === '/' ? 'index.html' : rq.url.slice(1);
    if (!/^[A-Za-z0-9._-]+$/.test(name) || !existsSync(join(BAKED, name))) { rs.writeHead(404); rs.end(); return; }
    rs.writeHead(200, { 'Content-Type': TYPES[extname(name)] || 'application/octet-stream', 'Content-Security-Policy': "default-src 'self'" });
    rs.end(readFileSync(join(BAKED, name)));
    return;
  }
  const up = httpRequest({ host: host.hostname, port: host.port, path: rq.url, method: rq.method, headers: rq.headers }, (ur) => {
    const parts = [];
    ur.on('data', (d) => parts.push(d));
    ur.on('end', () => {
      let body = Buffer.concat(parts);
      if (tamper === 'receipt' && rq.url.startsWith('/v1/jobs/') && ur.statusCode === 200) {
        const j = JSON.parse(body.toString());
        if (j.status === 'done') {
          const r = Buffer.from(j.receipt, 'base64'); r[r.length - 70] ^= 0x01; j.receipt = r.toString('base64');
          body = Buffer.from(JSON.stringify(j));
        }
      }
      if (tamper === 'attestation' && rq.url === '/v1/config' && ur.statusCode === 200) {
        const j = JSON.parse(body.toString());
        j.attestations = j.attestations.map((a) => { const d = Buffer.from(a, 'base64'); d[d.length - 5] ^= 0x01; return d.toString('base64'); });
        body = Buffer.from(JSON.stringify(j));
      }
      const h = { ...ur.headers, 'content-length': String(body.length) };
      delete h['transfer-encoding'];
      rs.writeHead(ur.statusCode, h);
      rs.end(body);
    });
  });
  rq.pipe(up);
});
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
const PROXY = `http://127.0.0.1:${proxy.address().port}`;
console.log(`host ${URL0}, tampering proxy ${PROXY}`);

// ---- the browser ----------------------------------------------------------------------
const userDir = mkdtempSync(join(tmpdir(), 'ccc-chromium-'));
const args = ['--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-default-apps', '--disable-sync'];
if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
const ctx = await chromium.launchPersistentContext(userDir, {
  executablePath: '/usr/bin/chromium', headless: true, args, viewport: { width: 1280, height: 800 }, acceptDownloads: true,
});
console.log('chromium started');
const consoleErrors = [];
function watch(page, label) {
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${label}: ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => consoleErrors.push(`${label}: page error: ${e.message}`));
  page.on('requestfailed', (r) => consoleErrors.push(`${label}: request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
}
const page = ctx.pages()[0] || await ctx.newPage();
watch(page, 'host');
// Listen from the start: Playwright enables file-chooser interception when
// the first listener is added, asynchronously; a late listener races Enter.
const choosers = [];
page.on('filechooser', (fc) => choosers.push(fc));

// Polls from Node (page.evaluate): waitForFunction would need 'unsafe-eval',
// which the page's Content-Security-Policy rightly forbids.
async function until(p, fn, arg, timeout = 150000) {
  const t0 = Date.now();
  while (!(await p.evaluate(fn, arg))) {
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${fn}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
async function waitOutcome(p, timeout = 150000) {
  await until(p, () => !document.getElementById('result').hidden || !document.getElementById('job-msg').hidden, null, timeout);
  return p.evaluate(() => ({
    result: !document.getElementById('result').hidden,
    count: document.getElementById('count').textContent,
    unit: document.getElementById('count-unit').textContent,
    msg: document.getElementById('job-msg').hidden ? '' : document.getElementById('job-msg').textContent,
    steps: Object.fromEntries([...document.querySelectorAll('#steps li')].map((li) => [li.id.slice(5), li.className])),
  }));
}
async function dropFile(p, path, type) {
  const b64 = readFileSync(path).toString('base64');
  const dt = await p.evaluateHandle(({ b64, name, type }) => {
    const bin = atob(b64), u = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
    const d = new DataTransfer();
    d.items.add(new File([u], name, { type }));
    return d;
  }, { b64, name: path.split('/').pop(), type });
  await p.dispatchEvent('#drop', 'dragenter', { dataTransfer: dt });
  await p.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
}
const jobsPosted = () => readFileSync(HOST_LOG, 'utf8').split('\n').filter((l) => l.includes('jobs_post')).length;

try {
  // 0. Without anchors the page says so and sends nothing.
  await page.goto(URL0);
  await page.waitForSelector('#anchor-badge.bad');
  check(await page.isVisible('#trust-box[open]'), 'no anchors: the trust panel opens and the badge says so');
  const before0 = jobsPosted();
  await dropFile(page, catPng, 'image/png');
  let o = await waitOutcome(page);
  check(!o.result && /no trust anchors/.test(o.msg) && jobsPosted() === before0, `no anchors: refused before anything is sent ("${o.msg.slice(0, 90)}…")`);
  await page.screenshot({ path: join(SHOTS, 'no-anchors-1280x800.png') });

  // Pin the stack's anchors through the page (file inputs), as a user would.
  await page.setInputFiles('#pin-root', join(TRUST, 'root.pem'));
  await page.setInputFiles('#pin-policyPub', join(TRUST, 'policy-pub.pem'));
  await page.setInputFiles('#pin-kmsPub', join(TRUST, 'kms-pub.pem'));
  await page.click('#pin-save');
  await page.waitForSelector('#anchor-badge.ok');
  const fps = await page.$$eval('#anchor-rows td.fp', (tds) => tds.map((t) => t.textContent));
  check(fps.length === 3 && fps.every((f) => /^[0-9a-f]{64}$/.test(f)), 'anchors pinned in the page, fingerprints shown');

  // 1. Local refusals: not an image, too small — nothing leaves the page.
  await page.setInputFiles('#file', join(WORK, 'notes.png'));
  await page.waitForSelector('#file-msg:not([hidden])');
  check(/not a JPEG or PNG/.test(await page.textContent('#file-msg')), 'a text file is refused locally');
  await page.setInputFiles('#file', join(WORK, 'tiny.png'));
  await until(page, () => /at least 32/.test(document.getElementById('file-msg').textContent), null, 20000);
  check(true, 'an 8×8 image is refused locally (dimensions)');
  check(jobsPosted() === before0, 'no job was posted for the refused files');

  // 2. The cat, dropped.
  await dropFile(page, catPng, 'image/png');
  o = await waitOutcome(page);
  check(o.result && o.count === '1' && o.unit === 'cat', `chelsea's left 300×300 → "${o.count} ${o.unit}"${o.msg ? ` (${o.msg})` : ''}`);
  check(o.steps.receipt === 'done' && Object.values(o.steps).every((s) => s === 'done'), 'every step done, receipt verified');
  check(/receipt verified/.test(await page.textContent('#count-sub')), 'the result says "receipt verified"');
  await page.click('#receipt-box summary');
  const fields = await page.$$eval('#receipt-fields dt', (d) => d.map((x) => x.textContent));
  check(['v', 'seq', 'pcrs', 'job_id', 'time_ms', 'model_sha256', 'answer_sha256', 'policy_sha256', 'request_sha256', 'attestation_sha256'].every((k) => fields.includes(k)), 'the receipt shows every field');
  const jobId = await page.$$eval('#receipt-fields dt', (d) => { const t = d.find((x) => x.textContent === 'job_id'); return t ? t.nextElementSibling.textContent : ''; });
  const gone = await fetch(`${URL0}/v1/jobs/${jobId}`);
  check(/^[0-9a-f]{32}$/.test(jobId) && gone.status === 404, `the page fetched the result with ?delete=1: the host no longer holds job ${jobId.slice(0, 8)}… (${gone.status})`);
  const [dlR] = await Promise.all([page.waitForEvent('download'), page.click('#dl-receipt')]);
  await dlR.saveAs(join(WORK, 'receipt.cose'));
  const [dlA] = await Promise.all([page.waitForEvent('download'), page.click('#dl-attest')]);
  await dlA.saveAs(join(WORK, 'attestation.cbor'));
  let cliOk = false, cliOut = '';
  try {
    cliOut = execFileSync(CCC, ['receipt', 'verify', join(WORK, 'receipt.cose'), '--attestation', join(WORK, 'attestation.cbor'), '--root', join(TRUST, 'root.pem'), '--at', 'now'], { encoding: 'utf8' });
    cliOk = true;
  } catch (e) { cliOut = `${e.stdout || ''}${e.stderr || ''}`; }
  check(cliOk, `ccc receipt verify accepts the downloaded receipt and attestation${cliOk ? '' : `: ${cliOut.trim().split('\n').slice(-2).join(' / ')}`}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, 'result-1280x800.png') });
  await page.screenshot({ path: join(SHOTS, 'result-1280-full.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => document.getElementById('h-result').scrollIntoView());
  await page.screenshot({ path: join(SHOTS, 'result-390x844.png') });
  await page.screenshot({ path: join(SHOTS, 'result-390-full.png'), fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  check(!overflow, 'no horizontal scrolling at 390 px');
  await page.setViewportSize({ width: 1280, height: 800 });

  // 3. No cat, chosen with the keyboard only (Tab to the drop zone, Enter).
  await page.click('#again');
  await page.goto(URL0);
  await page.waitForSelector('#anchor-badge.ok');
  let focused = '';
  for (let i = 0; i < 10 && focused !== 'drop'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  }
  check(focused === 'drop', 'the drop zone is reachable with Tab');
  await page.keyboard.press('Enter');
  for (let i = 0; i < 50 && !choosers.length; i++) await new Promise((r) => setTimeout(r, 100));
  check(choosers.length === 1, 'Enter on the drop zone opens the file chooser');
  await choosers.shift().setFiles(noCat);
  o = await waitOutcome(page);
  check(o.result && o.count === '0' && o.unit === 'cats', `coffee.png → "${o.count} ${o.unit}"${o.msg ? ` (${o.msg})` : ''}`);
  check(o.steps.receipt === 'done', 'no-cat receipt verified');

  // 3b. A pinned PCR0 the enclave does not have → refused before sending.
  await page.click('#trust-box summary');
  await page.fill('#pin-pcr0', 'ab'.repeat(48));
  await page.click('#pin-save');
  await page.waitForSelector('#pin-msg.info');
  let n0 = jobsPosted();
  await dropFile(page, catPng, 'image/png');
  o = await waitOutcome(page);
  check(!o.result && o.steps.attest === 'failed' && /PCR0 is not the PCR0 you pinned/.test(o.msg) && jobsPosted() === n0, `a wrong pinned PCR0 is refused before sending: "${o.msg.slice(0, 80)}…"`);
  await page.fill('#pin-pcr0', '');
  await page.click('#pin-save');

  // 3c. A policy older than one this browser accepted before → refused.
  const stateKey = `ccc.policy-state.${fps[1].slice(0, 16)}`; // per policy key, as ccc count
  check(await page.evaluate((k) => /^ccc-policy-state 1\nversion 1\nsha256 [0-9a-f]{64}\n$/.test(localStorage.getItem(k) || ''), stateKey), 'the browser keeps the accepted policy version per policy key');
  await page.evaluate((k) => localStorage.setItem(k, `ccc-policy-state 1\nversion 99\nsha256 ${'0'.repeat(64)}\n`), stateKey);
  n0 = jobsPosted();
  await dropFile(page, catPng, 'image/png');
  o = await waitOutcome(page);
  check(!o.result && o.steps.policy === 'failed' && /older than version 99/.test(o.msg) && jobsPosted() === n0, `a policy older than one seen before is refused: "${o.msg.slice(0, 80)}…"`);
  await page.screenshot({ path: join(SHOTS, 'refused-rollback-1280x800.png') });
  await page.evaluate((k) => localStorage.removeItem(k), stateKey);

  // 4. A host serving a tampered attestation (proxy, baked anchors).
  const p2 = await ctx.newPage();
  watch(p2, 'proxy');
  await p2.goto(PROXY);
  await p2.waitForSelector('#anchor-badge.ok');
  check(/built into this page/.test(await p2.textContent('#anchor-badge')), 'the proxy serves the page with anchors built in');
  const before = jobsPosted();
  await dropFile(p2, catPng, 'image/png');
  o = await waitOutcome(p2);
  check(!o.result && o.steps.attest === 'failed' && /attestation refused/.test(o.msg), `tampered attestation refused: "${o.msg}"`);
  check(o.steps.encrypt === 'pending' && o.steps.queued === 'pending', 'nothing encrypted or queued after the refusal');
  await new Promise((r) => setTimeout(r, 1500));
  check(jobsPosted() === before, `the host logged no POST /v1/jobs for it (${before} before and after)`);
  await p2.screenshot({ path: join(SHOTS, 'refused-tampered-1280x800.png') });
  await p2.setViewportSize({ width: 390, height: 844 });
  await p2.evaluate(() => document.getElementById('job-msg').scrollIntoView({ block: 'center' }));
  await p2.screenshot({ path: join(SHOTS, 'refused-tampered-390x844.png') });
  await p2.setViewportSize({ width: 1280, height: 800 });

  // 5. A host returning a tampered receipt → the answer is not shown.
  tamper = 'receipt';
  await dropFile(p2, catPng, 'image/png');
  o = await waitOutcome(p2);
  check(!o.result && o.steps.receipt === 'failed' && o.steps.decrypt === 'done' && /receipt/.test(o.msg), `a tampered receipt is refused and no count is shown: "${o.msg.slice(0, 90)}…"`);
} catch (e) {
  failed++;
  console.log(`FAIL ${e.stack || e}`);
  try { await page.screenshot({ path: join(SHOTS, 'failure.png'), fullPage: true }); } catch { /* */ }
} finally {
  check(consoleErrors.length === 0, `no console errors or warnings${consoleErrors.length ? `:\n  ${consoleErrors.join('\n  ')}` : ''}`);
  await ctx.close();
  proxy.close();
}
console.log(`screenshots in ${SHOTS}`);
if (failed) { console.log(`${failed} failure(s)`); process.exit(1); }
console.log('web_e2e: all passed');
