#!/usr/bin/env node
// tools/web/build.mjs — bundle the browser client (web/) with esbuild.
//
//   node tools/web/build.mjs [--out DIR] [--trust DIR] [--pcr0 HEX] [--label TEXT] [--sri]
//
//   --out DIR    where the page goes (default: build/web); flat: index.html,
//                style.css, app.js, favicon.svg (ccc-host --static serves
//                names [A-Za-z0-9._-]+ only)
//   --trust DIR  bake the anchors of a trust directory (root.pem,
//                policy-pub.pem, kms-pub.pem; e.g. the local stack's
//                ~/.local/share/ccc/stack/trust) into the bundle
//   --pcr0 HEX   bake an expected PCR0 as well (with --trust)
//   --label TEXT name shown for the baked anchors
//
//   --lib-out D  where the Node bundle goes (default: build/web-lib)
//
// Also writes build/web-lib/ccc-web.mjs (the modules for Node tests) and
// DIR/SHA256SUMS + DIR/integrity.json (SHA-384 subresource-integrity values
// of app.js and style.css, and index.html carrying them).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const out = resolve(opt('--out') || join(ROOT, 'build/web'));
const trustDir = opt('--trust');
const pcr0 = opt('--pcr0') || '';
const libOut = resolve(opt('--lib-out') || join(ROOT, 'build/web-lib'));
const label = opt('--label') || (trustDir ? trustDir.replace(/^.*\/(?=[^/]+\/trust\/?$)/, '').replace(/\/trust\/?$/, '') : '');

const baked = { root: '', policyPub: '', kmsPub: '', pcr0, label };
if (trustDir) {
  const read = (f) => {
    const p = join(trustDir, f);
    if (!existsSync(p)) { console.error(`build.mjs: ${p} is missing`); process.exit(2); }
    return readFileSync(p, 'utf8');
  };
  baked.root = read('root.pem');
  baked.policyPub = read('policy-pub.pem');
  baked.kmsPub = read('kms-pub.pem');
}
if (pcr0 && !trustDir) { console.error('build.mjs: --pcr0 goes with --trust (pinned anchors replace baked ones as a whole)'); process.exit(2); }
if (pcr0 && !/^[0-9a-f]{96}$/.test(pcr0)) { console.error('build.mjs: --pcr0 must be 96 lower-case hex digits'); process.exit(2); }

// Replace web/src/trust-baked.js with the chosen anchors.
const bakePlugin = {
  name: 'ccc-trust',
  setup(b) {
    b.onLoad({ filter: /trust-baked\.js$/ }, () => ({
      contents: `// baked by tools/web/build.mjs\nexport default ${JSON.stringify(baked, null, 1)};\n`,
      loader: 'js',
    }));
  },
};

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(ROOT, 'web/src/app.js')],
  bundle: true, format: 'esm', target: ['chrome110'], minify: true, sourcemap: false,
  outfile: join(out, 'app.js'), plugins: [bakePlugin], legalComments: 'none', logLevel: 'warning',
  external: ['node:crypto'], // only reached in Node 18 (bytes.js); browsers have globalThis.crypto
  nodePaths: [join(ROOT, 'tools/web/node_modules')],
});
mkdirSync(libOut, { recursive: true });
await build({
  entryPoints: [join(ROOT, 'web/src/lib.js')],
  bundle: true, format: 'esm', platform: 'node', target: ['node18'],
  outfile: join(libOut, 'ccc-web.mjs'), logLevel: 'warning',
  nodePaths: [join(ROOT, 'tools/web/node_modules')],
});
copyFileSync(join(ROOT, 'web/style.css'), join(out, 'style.css'));
copyFileSync(join(ROOT, 'web/favicon.svg'), join(out, 'favicon.svg'));

// Subresource integrity: a copy of the page saved elsewhere (or served
// from another origin) can load app.js/style.css from this host only if
// they are byte for byte the ones built here.
const sri = (f) => 'sha384-' + createHash('sha384').update(readFileSync(join(out, f))).digest('base64');
const integrity = { 'app.js': sri('app.js'), 'style.css': sri('style.css') };
let html = readFileSync(join(ROOT, 'web/index.html'), 'utf8');
html = html.replace('<link rel="stylesheet" href="style.css">', `<link rel="stylesheet" href="style.css" integrity="${integrity['style.css']}">`)
  .replace('<script type="module" src="app.js"></script>', `<script type="module" src="app.js" integrity="${integrity['app.js']}"></script>`);
writeFileSync(join(out, 'index.html'), html);
writeFileSync(join(out, 'integrity.json'), JSON.stringify(integrity, null, 1) + '\n');
const sums = ['index.html', 'app.js', 'style.css', 'favicon.svg']
  .map((f) => `${createHash('sha256').update(readFileSync(join(out, f))).digest('hex')}  ${f}`).join('\n') + '\n';
writeFileSync(join(out, 'SHA256SUMS'), sums);
console.log(`web: ${out} (${trustDir ? `anchors baked from ${trustDir}` : 'no anchors baked: the user pins them'})`);
