// x509chain.js — certificate chain to a pinned root at a given time: the
// decisions of src/x509 (OpenSSL X509_verify_cert with only the pinned root
// in the store, trusted-first, no partial chains, not X509_STRICT), made in
// the same order so both sides refuse a document for the same reason:
//   1. every certificate parses as exactly one DER X.509 (no trailing bytes);
//   2. the chain is built leaf → issuer by name (and authority/subject key
//      id when both are present), the pinned root first at every step, then
//      the bundle; no issuer → untrusted root;
//   3. no critical extension OpenSSL does not handle; RFC 5280 §4.2.1.9:
//      every issuer is a CA (basicConstraints cA), path length constraints hold;
//   4. from the root down: keyCertSign on the issuer, the signature, then
//      the validity period at the verification time (RFC 5280 §6.1.3 (a)(2));
//   5. the built chain is exactly the bundle (root-side order) — checked by
//      the caller with chainMatches().

import * as x509 from '@peculiar/x509';
import { equal, sha256, toHex, webcrypto } from './bytes.js';

x509.cryptoProvider.set(webcrypto);

export const MAX_DEPTH = 8;
const MAX_CERT_SIZE = 16 * 1024;

export class ChainError extends Error {
  constructor(why, msg, depth = 0) { super(msg); this.why = why; this.depth = depth; }
}

// DER total length of the outer TLV, or -1.
function derTotal(b) {
  if (b.length < 2 || b[0] !== 0x30) return -1;
  let len = b[1], off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || b.length < 2 + n) return -1;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[2 + i];
    off += n;
  }
  return off + len;
}

// One DER certificate filling all of `der`, or null.
export function parseCert(der) {
  if (!der || der.length === 0 || der.length > MAX_CERT_SIZE || derTotal(der) !== der.length) return null;
  try {
    const c = new x509.X509Certificate(der);
    c.der = der;
    c.subjectDer = new Uint8Array(c.subjectName.toArrayBuffer());
    c.issuerDer = new Uint8Array(c.issuerName.toArrayBuffer());
    const bc = c.getExtension(x509.BasicConstraintsExtension);
    const ku = c.getExtension(x509.KeyUsagesExtension);
    const ski = c.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = c.getExtension(x509.AuthorityKeyIdentifierExtension);
    c.bc = bc ? { ca: !!bc.ca, pathLength: bc.pathLength } : null;
    c.ku = ku ? ku.usages : null;
    c.ski = ski ? ski.keyId : null;
    c.aki = aki && aki.keyId ? aki.keyId : null;
    c.unknownCritical = c.extensions.some((e) => e.critical && !HANDLED_EXTENSIONS.has(e.type));
    if (!(c.notBefore instanceof Date) || isNaN(c.notBefore) || !(c.notAfter instanceof Date) || isNaN(c.notAfter)) return null;
    return c;
  } catch {
    return null;
  }
}

// X509_supported_extension (OpenSSL 3.0 v3_purp.c): a critical extension
// outside this list makes the certificate unusable (RFC 5280 §4.2: "A
// certificate-using system MUST reject the certificate if it encounters a
// critical extension it does not recognize").
const HANDLED_EXTENSIONS = new Set([
  '2.16.840.1.113730.1.1', '2.5.29.15', '2.5.29.17', '2.5.29.19', '2.5.29.32', '2.5.29.37',
  '1.3.6.1.5.5.7.1.14', '1.3.6.1.5.5.7.1.7', '1.3.6.1.5.5.7.1.8', '2.5.29.30', '2.5.29.33',
  '2.5.29.36', '2.5.29.54', '1.3.6.1.5.5.7.1.24',
]);

const selfIssued = (c) => equal(c.subjectDer, c.issuerDer);

// X509_check_issued: names, then key identifiers when both are present.
function issuedBy(child, issuer) {
  if (!equal(child.issuerDer, issuer.subjectDer)) return false;
  if (child.aki && issuer.ski && child.aki.toLowerCase() !== issuer.ski.toLowerCase()) return false;
  return true;
}

// X509_check_ca (≥ 1): basicConstraints cA, or no basicConstraints but keyCertSign.
function isCa(c) {
  if (c.bc) return c.bc.ca;
  return c.ku !== null && (c.ku & x509.KeyUsageFlags.keyCertSign) !== 0;
}

const validAt = (c, t) => c.notBefore.getTime() <= t && t <= c.notAfter.getTime();

// A pinned root: a self-issued CA certificate.
export function rootFromDer(der) {
  const c = parseCert(der);
  if (!c) throw new Error('root certificate is not DER X.509');
  if (!isCa(c)) throw new Error('root certificate is not a CA');
  if (!issuedBy(c, c)) throw new Error('root certificate is not self-issued');
  return c;
}

async function sigOk(child, issuer) {
  try {
    return await child.verify({ publicKey: issuer, signatureOnly: true });
  } catch {
    return false;
  }
}

// → {chain: [leaf, ..., root], leaf}; throws ChainError.
export async function chainVerify(root, leafDer, bundleDers, atSec) {
  if (bundleDers.length > MAX_DEPTH) throw new ChainError('invalid', 'certificate chain longer than the limit');
  const leaf = parseCert(leafDer);
  if (!leaf) throw new ChainError('malformed', 'leaf certificate is not DER X.509');
  const given = [];
  for (let i = 0; i < bundleDers.length; i++) {
    const c = parseCert(bundleDers[i]);
    if (!c) throw new ChainError('malformed', `chain certificate is not DER X.509, index ${i}`);
    given.push(c);
  }
  const t = atSec * 1000;

  // Build (trusted first).
  const chain = [leaf];
  const used = new Set();
  for (;;) {
    const cur = chain[chain.length - 1];
    if (issuedBy(cur, root)) {
      if (equal(cur.der, root.der)) chain[chain.length - 1] = root; // the root itself
      else chain.push(root);
      break;
    }
    if (selfIssued(cur) && issuedBy(cur, cur))
      throw new ChainError('untrusted_root', 'chain does not lead to the pinned root, chain depth', chain.length - 1);
    if (chain.length > MAX_DEPTH + 1)
      throw new ChainError('invalid', 'certificate chain refused, chain depth', chain.length - 1);
    let pick = -1;
    for (let i = 0; i < given.length; i++) {
      if (used.has(i) || !issuedBy(cur, given[i])) continue;
      if (pick < 0 || (!validAt(given[pick], t) && validAt(given[i], t))) pick = i;
    }
    if (pick < 0) throw new ChainError('untrusted_root', 'chain does not lead to the pinned root, chain depth', chain.length - 1);
    used.add(pick);
    chain.push(given[pick]);
  }

  // Extensions: CA flags and path lengths (leaf at 0, root last).
  let plen = 0;
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i];
    if (c.unknownCritical) throw new ChainError('invalid', 'certificate chain refused, chain depth', i);
    if (i > 0 && !isCa(c)) throw new ChainError('not_ca', 'issuer is not a CA, chain depth', i);
    if (i > 1 && c.bc && c.bc.pathLength !== undefined && plen > c.bc.pathLength + 1)
      throw new ChainError('path_length', 'issuer path length constraint exceeded, chain depth', i);
    if (!selfIssued(c)) plen++;
  }

  // Signatures and times, from the root down.
  for (let n = chain.length - 1; n >= 0; n--) {
    const xs = chain[n];
    if (n < chain.length - 1) {
      const xi = chain[n + 1];
      if (xi.ku !== null && (xi.ku & x509.KeyUsageFlags.keyCertSign) === 0)
        throw new ChainError('not_ca', 'issuer is not a CA, chain depth', n);
      if (!(await sigOk(xs, xi)))
        throw new ChainError('bad_signature', 'certificate signature does not verify, chain depth', n);
    }
    if (xs.notBefore.getTime() > t)
      throw new ChainError('not_yet_valid', 'certificate not yet valid at the verification time, chain depth', n);
    if (xs.notAfter.getTime() < t)
      throw new ChainError('expired', 'certificate expired at the verification time, chain depth', n);
  }
  return { chain, leaf };
}

// The chain built must be exactly: leaf, the bundle from the leaf side back
// (skipping bundle[0] when it is the root), the root.
export function chainMatches(chain, leaf, given, root) {
  let start = 0;
  if (given.length > 0 && equal(given[0], root.der)) start = 1;
  const expect = 1 + (given.length - start) + 1;
  if (chain.length !== expect) return false;
  if (!equal(chain[0].der, leaf)) return false;
  for (let i = 0; i + start < given.length; i++)
    if (!equal(chain[1 + i].der, given[given.length - 1 - i])) return false;
  return equal(chain[expect - 1].der, root.der);
}

export async function fingerprint(der) {
  return toHex(await sha256(der));
}
