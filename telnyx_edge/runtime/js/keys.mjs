// Storage keys as bytes: WTF-8, i.e. UTF-8 that also encodes lone UTF-16 surrogates as the
// three bytes their code point would take. Every JavaScript string maps to its own byte
// string (UTF-8 alone would turn every lone surrogate into U+FFFD, so two different keys
// could land on one row), and memcmp order of the bytes is code point order — the order
// `list()` documents. Python's `str.encode("utf-8", "surrogatepass")` produces the same bytes.

export function encodeKey(s) {
  if (s.isWellFormed()) return Buffer.from(s, "utf8");
  const out = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Buffer.from(out);
}

/** Inverse of encodeKey. Only bytes holding an encoded surrogate (0xED 0xA0..0xBF) need the slow path. */
export function decodeKey(b) {
  let surrogate = false;
  for (let i = b.indexOf(0xed); i !== -1 && i + 1 < b.length; i = b.indexOf(0xed, i + 1)) {
    if (b[i + 1] >= 0xa0) { surrogate = true; break; }
  }
  if (!surrogate) return b.toString("utf8");
  let s = "";
  for (let i = 0; i < b.length;) {
    const x = b[i];
    let c;
    if (x < 0x80) { c = x; i += 1; }
    else if (x < 0xe0) { c = ((x & 31) << 6) | (b[i + 1] & 63); i += 2; }
    else if (x < 0xf0) { c = ((x & 15) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63); i += 3; }
    else { c = ((x & 7) << 18) | ((b[i + 1] & 63) << 12) | ((b[i + 2] & 63) << 6) | (b[i + 3] & 63); i += 4; }
    s += String.fromCodePoint(c);
  }
  return s;
}

/** The smallest byte string greater than every string that starts with `p` (null: none). */
export function prefixEnd(p) {
  const b = Buffer.from(p);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) { const out = b.subarray(0, i + 1); out[i]++; return out; }
  }
  return null;
}
