// Stored values as typed JSON, for the explorer (docs/explorer.md, "Values"), both ways.
//
// Plain JSON stands for itself: numbers, strings, booleans, null, arrays and plain objects.
// Everything JSON cannot say is an object with a string `type`:
//   {"type": "Date", "value": "2026-01-01T00:00:00.000Z"}   {"type": "BigInt", "value": "123"}
//   {"type": "Map", "entries": [[k, v], ...]}                {"type": "Set", "values": [...]}
//   {"type": "bytes", "base64": "..."}                       {"type": "undefined"}
//   {"type": "number", "value": "NaN" | "Infinity" | "-Infinity" | "-0"}
//   {"type": "RegExp", "source": "...", "flags": "g"}
//   {"type": "Object", "value": {...}}   a plain object that has a key named "type" itself
// Nested values follow the same rules, so a Map of Dates round-trips. `fromTyped` refuses what
// it cannot read with a TypeError naming the path; the codec (codec.mjs) then checks the value.

const TYPED_ARRAYS = [
  Uint8Array, Int8Array, Uint8ClampedArray, Uint16Array, Int16Array, Uint32Array, Int32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
];

/** A decoded value -> typed JSON. */
export function toTyped(v) {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (v === undefined) return { type: "undefined" };
  if (typeof v === "number") {
    if (Number.isNaN(v)) return { type: "number", value: "NaN" };
    if (!Number.isFinite(v)) return { type: "number", value: v > 0 ? "Infinity" : "-Infinity" };
    if (Object.is(v, -0)) return { type: "number", value: "-0" };
    return v;
  }
  if (typeof v === "bigint") return { type: "BigInt", value: v.toString() };
  if (v instanceof Date) return { type: "Date", value: Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString() };
  if (v instanceof Map) return { type: "Map", entries: [...v].map(([k, x]) => [toTyped(k), toTyped(x)]) };
  if (v instanceof Set) return { type: "Set", values: [...v].map(toTyped) };
  if (v instanceof RegExp) return { type: "RegExp", source: v.source, flags: v.flags };
  if (v instanceof ArrayBuffer) return { type: "bytes", base64: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) {
    const kind = v.constructor?.name ?? "Uint8Array";
    const out = { type: "bytes", base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
    if (kind !== "Uint8Array" && kind !== "Buffer") out.view = kind;
    return out;
  }
  if (Array.isArray(v)) return v.map(toTyped);
  const obj = {};
  for (const [k, x] of Object.entries(v)) obj[k] = toTyped(x);
  return Object.prototype.hasOwnProperty.call(obj, "type") ? { type: "Object", value: obj } : obj;
}

/** The type name shown beside a value. */
export function typeName(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "Array";
  if (v instanceof Date) return "Date";
  if (v instanceof Map) return "Map";
  if (v instanceof Set) return "Set";
  if (v instanceof RegExp) return "RegExp";
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return "bytes";
  if (typeof v === "bigint") return "BigInt";
  if (typeof v === "object") return "Object";
  return typeof v;
}

function fail(path, message) {
  throw new TypeError(`${path}: ${message}`);
}

/** Typed JSON -> a value; TypeError naming the path of what it cannot read. */
export function fromTyped(j, path = "value") {
  if (j === null || typeof j === "string" || typeof j === "boolean") return j;
  if (typeof j === "number") return j;
  if (Array.isArray(j)) return j.map((x, i) => fromTyped(x, `${path}[${i}]`));
  if (typeof j !== "object") fail(path, `cannot read a ${typeof j}`);
  if (!Object.prototype.hasOwnProperty.call(j, "type")) {
    const out = {};
    for (const [k, x] of Object.entries(j)) out[k] = fromTyped(x, `${path}.${k}`);
    return out;
  }
  const t = j.type;
  switch (t) {
    case "undefined": return undefined;
    case "number": {
      const table = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity, "-0": -0 };
      if (typeof j.value === "number") return j.value;
      if (!(j.value in table)) fail(path, `a number is a JSON number or one of NaN, Infinity, -Infinity, -0, got ${JSON.stringify(j.value)}`);
      return table[j.value];
    }
    case "BigInt": {
      if (typeof j.value !== "string" && typeof j.value !== "number") fail(path, "a BigInt needs \"value\": its digits as a string");
      try { return BigInt(j.value); } catch { return fail(path, `${JSON.stringify(j.value)} is not an integer`); }
    }
    case "Date": {
      const d = typeof j.value === "number" ? new Date(j.value) : typeof j.value === "string" ? new Date(j.value) : null;
      if (d === null || Number.isNaN(d.getTime())) fail(path, `a Date needs "value": an ISO 8601 time or milliseconds, got ${JSON.stringify(j.value)}`);
      return d;
    }
    case "Map": {
      if (!Array.isArray(j.entries)) fail(path, "a Map needs \"entries\": a list of [key, value] pairs");
      return new Map(j.entries.map((e, i) => {
        if (!Array.isArray(e) || e.length !== 2) fail(`${path}.entries[${i}]`, "each entry is a [key, value] pair");
        return [fromTyped(e[0], `${path}.entries[${i}][0]`), fromTyped(e[1], `${path}.entries[${i}][1]`)];
      }));
    }
    case "Set": {
      if (!Array.isArray(j.values)) fail(path, "a Set needs \"values\": a list");
      return new Set(j.values.map((x, i) => fromTyped(x, `${path}.values[${i}]`)));
    }
    case "bytes": {
      if (typeof j.base64 !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(j.base64)) fail(path, "bytes need \"base64\": the bytes in base64");
      const buf = Buffer.from(j.base64, "base64");
      const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      if (j.view === undefined || j.view === "Uint8Array") return bytes;
      const View = TYPED_ARRAYS.find((c) => c.name === j.view);
      if (!View) fail(path, `unknown view ${JSON.stringify(j.view)}; one of ${TYPED_ARRAYS.map((c) => c.name).join(", ")}`);
      if (bytes.byteLength % View.BYTES_PER_ELEMENT) fail(path, `${bytes.byteLength} bytes do not fill a ${j.view}`);
      return new View(bytes.buffer);
    }
    case "RegExp": {
      try { return new RegExp(String(j.source ?? ""), String(j.flags ?? "")); } catch (err) { return fail(path, err.message); }
    }
    case "Object": {
      if (j.value === null || typeof j.value !== "object" || Array.isArray(j.value)) fail(path, "an Object needs \"value\": a JSON object");
      const out = {};
      for (const [k, x] of Object.entries(j.value)) out[k] = fromTyped(x, `${path}.${k}`);
      return out;
    }
    default:
      return fail(path, `unknown type ${JSON.stringify(t)}; one of Date, Map, Set, BigInt, bytes, RegExp, number, undefined, Object (a plain object with a "type" key goes inside {"type": "Object", "value": ...})`);
  }
}

/** Whether two values have the same typed JSON (what compare-and-set compares). */
export function sameValue(a, b) {
  return JSON.stringify(toTyped(a)) === JSON.stringify(toTyped(b));
}
