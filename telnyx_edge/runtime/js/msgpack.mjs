// The subset of MessagePack the runtime's frames use: nil, booleans, numbers, strings,
// binary, arrays and string-keyed maps. Python's side is the `msgpack` package
// (use_bin_type=True, raw=False, unicode_errors="surrogatepass"), so Buffers travel as `bin`
// and come back as Buffers, and strings are WTF-8 both ways (keys.mjs).

import { encodeKey, decodeKey } from "./keys.mjs";

let buf = Buffer.allocUnsafe(64 * 1024);
let pos = 0;

function ensure(n) {
  if (pos + n <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + n) size *= 2;
  const next = Buffer.allocUnsafe(size);
  buf.copy(next, 0, 0, pos);
  buf = next;
}

function writeString(s) {
  const ascii = s.length < 32 && isAscii(s);
  // A lone surrogate (an actor name may hold one) travels as WTF-8, which Python decodes with
  // "surrogatepass"; plain UTF-8 would turn it into U+FFFD and name another actor.
  const wtf8 = ascii || s.isWellFormed() ? null : encodeKey(s);
  const len = ascii ? s.length : wtf8 ? wtf8.length : Buffer.byteLength(s, "utf8");
  ensure(len + 5);
  if (len < 32) buf[pos++] = 0xa0 | len;
  else if (len < 0x100) { buf[pos++] = 0xd9; buf[pos++] = len; }
  else if (len < 0x10000) { buf[pos++] = 0xda; buf.writeUInt16BE(len, pos); pos += 2; }
  else { buf[pos++] = 0xdb; buf.writeUInt32BE(len, pos); pos += 4; }
  if (ascii) {
    for (let i = 0; i < len; i++) buf[pos++] = s.charCodeAt(i);
  } else if (wtf8) {
    pos += wtf8.copy(buf, pos);
  } else {
    pos += buf.write(s, pos, "utf8");
  }
}

function isAscii(s) {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function writeValue(v) {
  if (v === null || v === undefined) { ensure(1); buf[pos++] = 0xc0; return; }
  switch (typeof v) {
    case "boolean": ensure(1); buf[pos++] = v ? 0xc3 : 0xc2; return;
    case "string": writeString(v); return;
    case "number":
      ensure(9);
      if (Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff) {
        if (v >= 0) {
          if (v < 0x80) buf[pos++] = v;
          else if (v < 0x100) { buf[pos++] = 0xcc; buf[pos++] = v; }
          else if (v < 0x10000) { buf[pos++] = 0xcd; buf.writeUInt16BE(v, pos); pos += 2; }
          else { buf[pos++] = 0xce; buf.writeUInt32BE(v, pos); pos += 4; }
        } else if (v >= -32) buf[pos++] = v & 0xff;
        else { buf[pos++] = 0xd2; buf.writeInt32BE(v, pos); pos += 4; }
      } else if (Number.isSafeInteger(v)) {
        // Beyond 32 bits (epoch milliseconds, say): 64-bit ints, so Python gets an int.
        if (v >= 0) { buf[pos++] = 0xcf; buf.writeBigUInt64BE(BigInt(v), pos); }
        else { buf[pos++] = 0xd3; buf.writeBigInt64BE(BigInt(v), pos); }
        pos += 8;
      } else { buf[pos++] = 0xcb; buf.writeDoubleBE(v, pos); pos += 8; }
      return;
    case "bigint": writeValue(Number(v)); return;
    case "object":
      if (v instanceof Uint8Array) {
        const len = v.length;
        ensure(len + 5);
        if (len < 0x100) { buf[pos++] = 0xc4; buf[pos++] = len; }
        else if (len < 0x10000) { buf[pos++] = 0xc5; buf.writeUInt16BE(len, pos); pos += 2; }
        else { buf[pos++] = 0xc6; buf.writeUInt32BE(len, pos); pos += 4; }
        buf.set(v, pos); pos += len;
        return;
      }
      if (Array.isArray(v)) {
        const len = v.length;
        ensure(5);
        if (len < 16) buf[pos++] = 0x90 | len;
        else if (len < 0x10000) { buf[pos++] = 0xdc; buf.writeUInt16BE(len, pos); pos += 2; }
        else { buf[pos++] = 0xdd; buf.writeUInt32BE(len, pos); pos += 4; }
        for (let i = 0; i < len; i++) writeValue(v[i]);
        return;
      }
      {
        const keys = Object.keys(v);
        const len = keys.length;
        ensure(5);
        if (len < 16) buf[pos++] = 0x80 | len;
        else if (len < 0x10000) { buf[pos++] = 0xde; buf.writeUInt16BE(len, pos); pos += 2; }
        else { buf[pos++] = 0xdf; buf.writeUInt32BE(len, pos); pos += 4; }
        for (const k of keys) { writeString(k); writeValue(v[k]); }
        return;
      }
    default:
      throw new TypeError(`cannot frame a ${typeof v}`);
  }
}

/** Encode `value` as one frame: a 4-byte big-endian length, then the MessagePack body. */
export function encodeFrame(value) {
  pos = 4;
  writeValue(value);
  buf.writeUInt32BE(pos - 4, 0);
  return Buffer.from(buf.subarray(0, pos));
}

export class Decoder {
  constructor(data, offset, end) { this.d = data; this.p = offset; this.end = end; }

  value() {
    const d = this.d;
    const b = d[this.p++];
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xe0) === 0xa0) return this.str(b & 0x1f);
    if ((b & 0xf0) === 0x90) return this.arr(b & 0x0f);
    if ((b & 0xf0) === 0x80) return this.map(b & 0x0f);
    let v;
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: v = d[this.p]; this.p += 1; return this.bin(v);
      case 0xc5: v = d.readUInt16BE(this.p); this.p += 2; return this.bin(v);
      case 0xc6: v = d.readUInt32BE(this.p); this.p += 4; return this.bin(v);
      case 0xca: v = d.readFloatBE(this.p); this.p += 4; return v;
      case 0xcb: v = d.readDoubleBE(this.p); this.p += 8; return v;
      case 0xcc: return d[this.p++];
      case 0xcd: v = d.readUInt16BE(this.p); this.p += 2; return v;
      case 0xce: v = d.readUInt32BE(this.p); this.p += 4; return v;
      case 0xcf: v = Number(d.readBigUInt64BE(this.p)); this.p += 8; return v;
      case 0xd0: v = d.readInt8(this.p); this.p += 1; return v;
      case 0xd1: v = d.readInt16BE(this.p); this.p += 2; return v;
      case 0xd2: v = d.readInt32BE(this.p); this.p += 4; return v;
      case 0xd3: v = Number(d.readBigInt64BE(this.p)); this.p += 8; return v;
      case 0xd9: v = d[this.p]; this.p += 1; return this.str(v);
      case 0xda: v = d.readUInt16BE(this.p); this.p += 2; return this.str(v);
      case 0xdb: v = d.readUInt32BE(this.p); this.p += 4; return this.str(v);
      case 0xdc: v = d.readUInt16BE(this.p); this.p += 2; return this.arr(v);
      case 0xdd: v = d.readUInt32BE(this.p); this.p += 4; return this.arr(v);
      case 0xde: v = d.readUInt16BE(this.p); this.p += 2; return this.map(v);
      case 0xdf: v = d.readUInt32BE(this.p); this.p += 4; return this.map(v);
      default: throw new Error(`unsupported MessagePack byte 0x${b.toString(16)}`);
    }
  }

  str(n) {
    const s = decodeKey(this.d.subarray(this.p, this.p + n)); // WTF-8: lone surrogates kept
    this.p += n;
    return s;
  }

  bin(n) {
    // A copy: the frame buffer is reused for the next read.
    const out = Buffer.from(this.d.subarray(this.p, this.p + n));
    this.p += n;
    return out;
  }

  arr(n) {
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value();
    return out;
  }

  map(n) {
    const out = {};
    for (let i = 0; i < n; i++) { const k = this.value(); out[k] = this.value(); }
    return out;
  }
}

/** Split a byte stream into frames; `onFrame(value)` for each complete one. */
export class FrameReader {
  constructor(onFrame) { this.onFrame = onFrame; this.pending = null; }

  push(chunk) {
    let data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let p = 0;
    while (data.length - p >= 4) {
      const len = data.readUInt32BE(p);
      if (data.length - p - 4 < len) break;
      const value = new Decoder(data, p + 4, p + 4 + len).value();
      p += 4 + len;
      this.onFrame(value);
    }
    this.pending = p < data.length ? data.subarray(p) : null;
  }
}
