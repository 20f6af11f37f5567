// trust.js — the trust anchors the page checks everything against
// (docs/protocol.md §12): the attestation root, the policy key, the key
// service key, and optionally an expected PCR0. Two sources:
//   baked  — written into the bundle at build time from a trust directory
//            (tools/web/build.mjs --trust DIR); as trustworthy as whoever
//            serves the page (see docs/browser.md);
//   pinned — chosen by the user in the page and kept in localStorage for
//            this origin; pinned anchors replace baked ones.

import baked from './trust-baked.js';
import { rootFromDer } from './x509chain.js';
import { ed25519FromSpki } from './signed.js';
import { fromHex, pemDecode, sha256, toHex } from './bytes.js';

const KEY = 'ccc.trust.v1';
export const ANCHORS = [
  { id: 'root', file: 'root.pem', label: 'Attestation root', what: 'checks the enclave attestation certificate chain' },
  { id: 'policyPub', file: 'policy-pub.pem', label: 'Policy key', what: 'checks the signed policy (measurements, models, limits)' },
  { id: 'kmsPub', file: 'kms-pub.pem', label: 'Key service key', what: 'checks the signed encryption key configuration' },
];

export function readPinned(storage) {
  try {
    const v = JSON.parse(storage.getItem(KEY) || 'null');
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}
export function writePinned(storage, v) { storage.setItem(KEY, JSON.stringify(v)); }
export function clearPinned(storage) { storage.removeItem(KEY); }

// Validate one PEM text for an anchor; → {der, fingerprint}. Throws with a message.
export async function checkAnchor(id, pem) {
  if (id === 'root') {
    const der = pemDecode(pem, 'CERTIFICATE');
    rootFromDer(der);
    return { der, fingerprint: toHex(await sha256(der)) };
  }
  const der = pemDecode(pem, 'PUBLIC KEY');
  await ed25519FromSpki(der, id === 'policyPub' ? 'policy key' : 'key service key');
  return { der, fingerprint: toHex(await sha256(der)) };
}

export function normalisePcr0(hex) {
  const h = (hex || '').trim().toLowerCase();
  if (!h) return '';
  if (!/^[0-9a-f]{96}$/.test(h)) throw new Error('expected PCR0 must be 96 hex digits (SHA-384)');
  return h;
}

/*
 * The anchors in force: {source: 'pinned'|'baked'|'none', root, policyKey,
 * kmsKey, pcr0 (Uint8Array|null), fingerprints, bakedDiffers}. Throws when
 * an anchor is present but unusable.
 */
export async function loadAnchors(storage) {
  const pinned = readPinned(storage);
  const src = pinned && pinned.root && pinned.policyPub && pinned.kmsPub ? pinned : baked && baked.root ? baked : null;
  if (!src) return { source: 'none' };
  const out = { source: src === pinned ? 'pinned' : 'baked', fingerprints: {} };
  for (const a of ANCHORS) {
    let r;
    try {
      r = await checkAnchor(a.id, src[a.id]);
    } catch (e) {
      throw new Error(`${a.label} (${out.source}) is unusable: ${e.message}`);
    }
    out.fingerprints[a.id] = r.fingerprint;
    if (a.id === 'root') out.root = rootFromDer(r.der);
    else out[a.id === 'policyPub' ? 'policyKey' : 'kmsKey'] = await ed25519FromSpki(r.der, a.label);
  }
  const pcr0 = normalisePcr0(src.pcr0 || '');
  out.pcr0 = pcr0 ? fromHex(pcr0) : null;
  out.bakedDiffers = out.source === 'pinned' && !!(baked && baked.root) &&
    ANCHORS.some((a) => (baked[a.id] || '').trim() !== (pinned[a.id] || '').trim());
  out.bakedLabel = baked && baked.label ? baked.label : '';
  return out;
}

export const bakedAnchors = baked;
