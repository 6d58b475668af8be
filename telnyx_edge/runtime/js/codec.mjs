// Values crossing an actor boundary (stub arguments, results, storage values) are encoded
// once here with V8 serialization. V8 would happily serialize class instances as plain
// objects and lose their prototype; the spec wants them rejected, so a walk runs first.

import v8 from "node:v8";
import { CodecError } from "./errors.mjs";

const TYPED = [
  Uint8Array, Int8Array, Uint8ClampedArray, Uint16Array, Int16Array, Uint32Array, Int32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
];
const LEAF_PROTOS = new Set([
  Date.prototype, RegExp.prototype, ArrayBuffer.prototype, ...TYPED.map((t) => t.prototype),
]);
const MAX_VALUE_BYTES = 2 * 1024 * 1024;

function describe(value) {
  if (typeof value === "function") return `a function (${value.name || "anonymous"})`;
  if (typeof value === "symbol") return "a symbol";
  if (value instanceof Promise) return "a promise";
  const ctor = Object.getPrototypeOf(value)?.constructor;
  return `an instance of ${ctor?.name || "a class"}`;
}

function check(value, path, ancestors) {
  const t = typeof value;
  if (value === null || t === "string" || t === "number" || t === "boolean" || t === "bigint" || t === "undefined") return;
  if (t === "function" || t === "symbol") throw new CodecError(`cannot serialize ${describe(value)} at ${path}`);
  const proto = Object.getPrototypeOf(value);
  if (LEAF_PROTOS.has(proto) || (typeof Buffer !== "undefined" && value instanceof Buffer)) return;
  if (ancestors.includes(value)) throw new CodecError(`cannot serialize a circular structure at ${path}`);
  ancestors.push(value);
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) throw new CodecError(`cannot serialize ${describe(value)} at ${path}`);
    for (let i = 0; i < value.length; i++) check(value[i], `${path}[${i}]`, ancestors);
  } else if (proto === Map.prototype) {
    for (const [k, v] of value) { check(k, `${path}<key>`, ancestors); check(v, `${path}.get(${String(k)})`, ancestors); }
  } else if (proto === Set.prototype) {
    for (const v of value) check(v, `${path}<item>`, ancestors);
  } else if (proto === Object.prototype || proto === null) {
    for (const k of Object.keys(value)) check(value[k], `${path}.${k}`, ancestors);
    if (Object.getOwnPropertySymbols(value).length) throw new CodecError(`cannot serialize a symbol-keyed property at ${path}`);
  } else {
    throw new CodecError(`cannot serialize ${describe(value)} at ${path}`);
  }
  ancestors.pop();
}

/** Encode a value; throws CodecError naming what cannot be stored and where. */
export function encodeValue(value, what = "value") {
  check(value, what, []);
  const bytes = v8.serialize(value);
  if (bytes.length > MAX_VALUE_BYTES) throw new CodecError(`${what} is ${bytes.length} bytes encoded; the limit is 2 MiB`);
  return bytes;
}

export function decodeValue(bytes) {
  return v8.deserialize(bytes);
}

/** Fast path for the very common case of small plain values (skips the walk for primitives). */
export function encodeArgs(args) {
  return encodeValue(args, "arguments");
}

function isPrimitive(v) {
  const t = typeof v;
  return v === null || t === "string" || t === "number" || t === "boolean" || t === "undefined" || t === "bigint";
}

// Strings longer than this (in UTF-16 code units, together) take the full codec, whose size
// check is exact: a value must meet the one 2 MiB limit whichever path it takes (a call to an
// actor on the same Worker, another Worker or another function).
const QUICK_MAX_CHARS = MAX_VALUE_BYTES / 4;

/** A copy of a value made only of primitives, one level deep (an array or plain object of
 *  them), or undefined when the value needs the full codec. Such values are always storable,
 *  and copying them directly is much cheaper than serializing: the common stub call
 *  `debit(1)` returning `{ ok, balance }` never touches V8 serialization. */
export function quickCopy(value) {
  if (isPrimitive(value)) return typeof value === "string" && value.length > QUICK_MAX_CHARS ? undefined : { value };
  let chars = 0;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (!isPrimitive(v) || !(i in value)) return undefined;
      if (typeof v === "string" && (chars += v.length) > QUICK_MAX_CHARS) return undefined;
    }
    return { value: value.slice() };
  }
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out = {};
    for (const k in value) {
      if (!Object.prototype.hasOwnProperty.call(value, k)) return undefined;
      const v = value[k];
      if (!isPrimitive(v)) return undefined;
      chars += k.length + (typeof v === "string" ? v.length : 0);
      if (chars > QUICK_MAX_CHARS) return undefined;
      out[k] = v;
    }
    if (Object.getOwnPropertySymbols(value).length) return undefined;
    return { value: out };
  }
  return undefined;
}
