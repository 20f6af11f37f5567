// cbor.js — strict, bounded CBOR decoding (RFC 8949) mirroring src/cbor.
//
// Hand-written rather than taken from an npm decoder because the verifier
// needs what src/cbor gives the C side and the libraries do not, together:
// the raw encoded span of every item (COSE hashes the protected header and
// the payload exactly as received), refusal of duplicate keys by encoded
// bytes, of indefinite lengths, reserved AI, unassigned simple values and
// invalid UTF-8, the same size/item/depth limits, and the canonical mode of
// RFC 8949 §4.2.1 (shortest heads, keys sorted bytewise, no floats).
//
// Item: {type, raw, ...}: 'uint'/'nint' {value: BigInt (nint: the argument n,
// value -1-n)}, 'bytes' {bytes}, 'text' {text, bytes}, 'array' {items},
// 'map' {entries: [[k, v], ...]}, 'tag' {tag: BigInt, child}, 'false',
// 'true', 'null', 'undefined', 'float' {value}.

import { compare } from './bytes.js';

export class CborError extends Error {
  constructor(msg, kind = 'parse') { super(msg); this.kind = kind; }
}

export const CANONICAL = 1;

export function limitsDefault() {
  return { maxInputSize: 1 << 20, maxStringSize: 1 << 20, maxItems: 65536, maxDepth: 16 };
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function decode(input, limits = null, flags = 0) {
  const lim = { ...limitsDefault(), ...(limits || {}) };
  const canonical = (flags & CANONICAL) !== 0;
  if (!(input instanceof Uint8Array)) throw new CborError('CBOR input is not bytes', 'usage');
  if (input.length > lim.maxInputSize) throw new CborError('CBOR input too large', 'limit');
  let pos = 0;
  let count = 0;
  const need = (n) => { if (n > input.length - pos) throw new CborError('CBOR truncated'); };

  function head() {
    need(1);
    const ib = input[pos++];
    const major = ib >> 5, ai = ib & 31;
    let arg;
    if (ai < 24) arg = BigInt(ai);
    else if (ai <= 27) {
      const n = 1 << (ai - 24);
      need(n);
      arg = 0n;
      for (let i = 0; i < n; i++) arg = (arg << 8n) | BigInt(input[pos++]);
      if (canonical && major !== 7) {
        const min = ai === 24 ? 24n : 1n << BigInt(8 * (n / 2));
        if (arg < min) throw new CborError('CBOR head not in shortest form');
      }
    } else if (ai === 31) {
      throw new CborError(major === 7 ? 'CBOR break outside indefinite item' : 'CBOR indefinite length refused');
    } else {
      throw new CborError('CBOR reserved additional information');
    }
    return { major, ai, arg };
  }

  function item(depth) {
    const start = pos;
    if (++count > lim.maxItems) throw new CborError('too many CBOR items', 'limit');
    const { major, ai, arg } = head();
    const done = (o) => { o.raw = input.subarray(start, pos); return o; };
    switch (major) {
      case 0: return done({ type: 'uint', value: arg });
      case 1: return done({ type: 'nint', value: arg });
      case 2: case 3: {
        if (arg > BigInt(lim.maxStringSize)) throw new CborError('CBOR string too long', 'limit');
        const n = Number(arg);
        need(n);
        const bytes = input.subarray(pos, pos + n);
        pos += n;
        if (major === 2) return done({ type: 'bytes', bytes });
        let text;
        try { text = utf8Strict.decode(bytes); } catch { throw new CborError('CBOR text is not valid UTF-8'); }
        return done({ type: 'text', text, bytes });
      }
      case 4: case 5: case 6: {
        if (depth >= lim.maxDepth) throw new CborError('CBOR nesting too deep', 'limit');
        if (major === 6) {
          const child = item(depth + 1);
          return done({ type: 'tag', tag: arg, child });
        }
        if (arg > BigInt(lim.maxItems) || (major === 5 && arg > BigInt(Math.floor(lim.maxItems / 2))))
          throw new CborError('too many CBOR items', 'limit');
        const n = Number(arg);
        if (major === 4) {
          const items = [];
          for (let i = 0; i < n; i++) items.push(item(depth + 1));
          return done({ type: 'array', items });
        }
        const entries = [];
        const seen = [];
        for (let i = 0; i < n; i++) {
          const k = item(depth + 1);
          const v = item(depth + 1);
          for (const s of seen) if (compare(s, k.raw) === 0) throw new CborError('CBOR duplicate map key');
          if (canonical && seen.length && compare(seen[seen.length - 1], k.raw) >= 0)
            throw new CborError('CBOR map keys not in canonical order');
          seen.push(k.raw);
          entries.push([k, v]);
        }
        return done({ type: 'map', entries });
      }
      default: { // major 7
        if (ai < 24 || ai === 24) {
          const v = Number(arg);
          if (ai === 24 && v < 32) throw new CborError('CBOR two-byte simple value below 32');
          if (v === 20) return done({ type: 'false' });
          if (v === 21) return done({ type: 'true' });
          if (v === 22) return done({ type: 'null' });
          if (v === 23) return done({ type: 'undefined' });
          throw new CborError('CBOR unassigned simple value');
        }
        if (canonical) throw new CborError('CBOR float in a canonical document');
        const len = 1 << (ai - 24);
        const dv = new DataView(input.buffer, input.byteOffset + pos - len, len);
        let value;
        if (ai === 25) value = half(dv.getUint16(0));
        else if (ai === 26) value = dv.getFloat32(0);
        else value = dv.getFloat64(0);
        return done({ type: 'float', value });
      }
    }
  }

  const root = item(0);
  if (pos !== input.length) throw new CborError('CBOR trailing bytes after the item');
  return root;
}

function half(h) {
  const e = (h >> 10) & 31, m = h & 1023, s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// ---- navigation ---------------------------------------------------------

// Value of a text key, or undefined. Keys compare by value.
export function mapGet(map, name) {
  if (!map || map.type !== 'map') throw new CborError('CBOR item is not a map');
  let found;
  for (const [k, v] of map.entries) {
    if (k.type === 'text' && k.text === name) {
      if (found) throw new CborError('ambiguous duplicate map key');
      found = v;
    }
  }
  return found;
}

export function getUint(it, what) {
  if (!it || it.type !== 'uint') throw new CborError(`${what} is not an unsigned integer`);
  return it.value;
}
export function getBytes(it, what, size = -1) {
  if (!it || it.type !== 'bytes') throw new CborError(`${what} is not a byte string`);
  if (size >= 0 && it.bytes.length !== size) throw new CborError(`${what} is not ${size} bytes`);
  return it.bytes;
}

// ---- encoding (the little the client writes: Sig_structure) -------------

export function encodeHead(major, n) {
  n = BigInt(n);
  const m = major << 5;
  if (n < 24n) return Uint8Array.of(m | Number(n));
  const sizes = [[0xffn, 24, 1], [0xffffn, 25, 2], [0xffffffffn, 26, 4], [0xffffffffffffffffn, 27, 8]];
  for (const [max, ai, len] of sizes) {
    if (n <= max) {
      const out = new Uint8Array(1 + len);
      out[0] = m | ai;
      for (let i = len; i >= 1; i--) { out[i] = Number(n & 0xffn); n >>= 8n; }
      return out;
    }
  }
  throw new CborError('CBOR argument too large', 'usage');
}
