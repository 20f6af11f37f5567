// bytes.js — small byte helpers shared by every module (no dependencies).
// Works the same in the browser and in Node: WebCrypto is globalThis.crypto
// (browsers, Node >= 19); Node 18 has it as require('node:crypto').webcrypto.

export const webcrypto = globalThis.crypto && globalThis.crypto.subtle
  ? globalThis.crypto
  : (await import('node:crypto')).webcrypto;
export const subtle = webcrypto.subtle;

const HEX = '0123456789abcdef';
export function toHex(b) {
  let s = '';
  for (const x of b) s += HEX[x >> 4] + HEX[x & 15];
  return s;
}
export function fromHex(s) {
  if (typeof s !== 'string' || s.length % 2 || /[^0-9a-fA-F]/.test(s)) throw new Error('bad hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

// Standard base64 with padding (RFC 4648 §4), strict: what ccc-host sends.
export function fromB64(s) {
  if (typeof s !== 'string' || s.length % 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Error('bad base64');
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
export function toB64(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function equal(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// Bytewise lexicographic order (RFC 8949 §4.2.1 map keys).
export function compare(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export const utf8 = (s) => new TextEncoder().encode(s);

export async function sha256(b) { return new Uint8Array(await subtle.digest('SHA-256', b)); }
export async function sha384(b) { return new Uint8Array(await subtle.digest('SHA-384', b)); }

// PEM → DER of the one block with the given label (exactly one block).
export function pemDecode(text, label) {
  if (typeof text !== 'string' || text.length > 64 * 1024) throw new Error('PEM empty or too large');
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`, 'g');
  const blocks = [...text.matchAll(re)];
  if (blocks.length !== 1) throw new Error(`expected exactly one ${label} PEM block`);
  if (/-----BEGIN /.test(text.replace(blocks[0][0], ''))) throw new Error('PEM holds more than one block');
  return fromB64(blocks[0][1].replace(/\s+/g, ''));
}
