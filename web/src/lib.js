// lib.js — the page's modules for Node (tests): bundled by tools/web/build.mjs
// into build/web-lib/ccc-web.mjs with their npm dependencies.
export * as bytes from './bytes.js';
export * as cbor from './cbor.js';
export * as cose from './cose.js';
export * as x509chain from './x509chain.js';
export * as attest from './attest.js';
export * as signed from './signed.js';
export * as ohttp from './ohttp.js';
export * as client from './client.js';
export * as trust from './trust.js';
