// ctx.storage for one activation, and the buffered writes of one turn.
//
// Writes never touch the activation's cache directly: they go to the running turn's
// TurnWrites, which the activation applies (and sends to Python as one commit) only when
// the turn returns. A turn that throws simply drops its TurnWrites.

import { encodeValue, decodeValue } from "./codec.mjs";

const RESERVED_PREFIX = "__telnyx_";
export const ABSENT = null;


function checkKey(key) {
  if (typeof key !== "string") throw new TypeError(`storage keys must be strings, got ${typeof key}`);
}

function checkWritableKey(key) {
  checkKey(key);
  if (key.startsWith(RESERVED_PREFIX)) {
    throw new TypeError(`storage key "${key}" is reserved: keys starting with "${RESERVED_PREFIX}" belong to the runtime`);
  }
}

function codePointAt(s, i) {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
  }
  return c;
}

/** Key order is code point order (the engine's UTF-8 byte order), not JS's UTF-16 order:
 *  they differ for characters above U+FFFF against U+E000..U+FFFF. */
export function compareKeys(a, b) {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return codePointAt(a, i) < codePointAt(b, i) ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}

export function inRange(key, o) {
  if (o.prefix !== undefined && !key.startsWith(o.prefix)) return false;
  if (o.start !== undefined && compareKeys(key, o.start) < 0) return false;
  if (o.startAfter !== undefined && compareKeys(key, o.startAfter) <= 0) return false;
  if (o.end !== undefined && compareKeys(key, o.end) >= 0) return false;
  return true;
}

function listOptions(options) {
  const o = options ?? {};
  for (const k of ["prefix", "start", "startAfter", "end"]) {
    if (o[k] !== undefined && typeof o[k] !== "string") throw new TypeError(`list option ${k} must be a string`);
  }
  const limit = o.limit === undefined ? 128 : o.limit;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new RangeError(`list option limit must be an integer from 1 to 1000, got ${o.limit}`);
  }
  return { prefix: o.prefix, start: o.start, startAfter: o.startAfter, end: o.end, reverse: !!o.reverse, limit };
}

/** The buffered writes of one turn. */
export class TurnWrites {
  constructor() {
    this.writes = new Map(); // key -> Buffer | ABSENT
    this.cleared = false;
    this.alarm = undefined; // undefined | number | ABSENT (delete)
    this.gateError = null; // set when transaction() threw: the caller sees ActorOutputGateError
  }

  snapshot() {
    return { writes: new Map(this.writes), cleared: this.cleared, alarm: this.alarm };
  }

  restore(s) {
    this.writes = s.writes; this.cleared = s.cleared; this.alarm = s.alarm;
  }

  toWire() {
    const out = [];
    if (this.cleared) out.push(["deleteAll"]);
    for (const [k, v] of this.writes) out.push(v === ABSENT ? ["delete", k] : ["put", k, v]);
    if (this.alarm !== undefined) out.push(this.alarm === ABSENT ? ["deleteAlarm"] : ["setAlarm", this.alarm]);
    return out;
  }
}

export class Storage {
  constructor(act) { this.act = act; }

  get tx() {
    const tx = this.act.current;
    if (!tx) throw new Error("ctx.storage can only be used while a method of this actor is running");
    return tx;
  }

  async get(key) {
    checkKey(key);
    if (key.startsWith(RESERVED_PREFIX)) return undefined; // no user value can live there
    const bytes = await this.act.read(this.tx, key);
    return bytes === ABSENT ? undefined : decodeValue(bytes);
  }

  async put(key, value) {
    checkWritableKey(key);
    const tx = this.tx;
    tx.writes.set(key, encodeValue(value, `the value for key "${key}"`));
  }

  async delete(key) {
    checkWritableKey(key);
    const tx = this.tx;
    const existed = (await this.act.read(tx, key)) !== ABSENT;
    tx.writes.set(key, ABSENT);
    return existed;
  }

  async deleteAll() {
    const tx = this.tx;
    tx.writes.clear();
    tx.cleared = true;
  }

  async list(options) {
    const o = listOptions(options);
    const entries = await this.act.list(this.tx, o);
    const out = new Map();
    for (const [k, v] of entries) out.set(k, decodeValue(v));
    return out;
  }

  async transaction(fn) {
    const tx = this.tx;
    const saved = tx.snapshot();
    const txn = {
      get: (k) => this.get(k), put: (k, v) => this.put(k, v),
      delete: (k) => this.delete(k), list: (o) => this.list(o),
    };
    try {
      return await fn(txn);
    } catch (err) {
      tx.restore(saved);
      tx.gateError = err;
      throw err;
    }
  }

  async setAlarm(when) {
    if (typeof when !== "number" || !Number.isFinite(when)) throw new TypeError("setAlarm(when) takes milliseconds since the epoch (a number)");
    this.tx.alarm = Math.floor(when);
  }

  async getAlarm() {
    const tx = this.tx;
    if (tx.alarm !== undefined) return tx.alarm;
    await this.act.settled();
    const when = await this.act.host.chan.request("getalarm", this.act.type, this.act.name);
    return when ?? null;
  }

  async deleteAlarm() {
    this.tx.alarm = ABSENT;
  }

  get sql() {
    throw new Error("ctx.storage.sql is not supported by telnyx-edge dev yet; use get/put/list/delete");
  }

  transactionSync() {
    throw new Error("ctx.storage.transactionSync() is not supported by telnyx-edge dev yet; use transaction()");
  }
}

