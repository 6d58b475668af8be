// ctx.storage for one activation (spec 3.5, 3.6, 3.8).
//
// Every operation runs against the actor's database at the moment it is called, inside the
// running turn's savepoint (actordb.mjs). So operations apply in call order within a turn,
// awaited or not, and each one observes all the operations called before it: this is what
// makes `Promise.all([storage.delete("k"), storage.put("k", v)])` keep the put. The turn's
// writes commit together when it returns and vanish if it throws.

import { encodeValue, decodeValue } from "./codec.mjs";
import { SqlStorage, transactionSync } from "./sql.mjs";
import { ActorOutputGateError } from "./errors.mjs";

const RESERVED_PREFIX = "__telnyx_";

function checkKey(key) {
  if (typeof key !== "string") throw new TypeError(`storage keys must be strings, got ${typeof key}`);
}

function checkWritableKey(key) {
  checkKey(key);
  if (key.startsWith(RESERVED_PREFIX)) {
    throw new TypeError(`storage key "${key}" is reserved: keys starting with "${RESERVED_PREFIX}" belong to the runtime`);
  }
}

function listOptions(options) {
  const o = options ?? {};
  for (const k of ["prefix", "start", "startAfter", "end"]) {
    if (o[k] !== undefined && typeof o[k] !== "string") throw new TypeError(`list option ${k} must be a string`);
  }
  if (o.start !== undefined && o.startAfter !== undefined) {
    throw new TypeError("list options start and startAfter cannot be used together: pick one");
  }
  const limit = o.limit === undefined ? 128 : o.limit;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    const shown = typeof limit === "string" ? JSON.stringify(limit) + " (a string)" : String(limit);
    throw new RangeError(`list option limit must be an integer from 1 to 1000, got ${shown}`);
  }
  return { prefix: o.prefix, start: o.start, startAfter: o.startAfter, end: o.end, reverse: !!o.reverse, limit };
}

export class Storage {
  constructor(act) {
    this.act = act;
    this.sql = new SqlStorage(() => this.db);
    // transaction() calls whose callback is still running: a KV or alarm write made beside
    // them (not through their `txn`) is recorded, so their rollback can put it back.
    this.pending = [];
  }

  /** Note a write made outside every pending transaction's `txn`. */
  beside(op) {
    for (const t of this.pending) t.beside.push(op);
  }

  /** The actor's database, while one of its turns runs (storage is unusable in between). */
  get db() {
    if (!this.act.turn) throw new Error("ctx.storage can only be used while a method of this actor is running");
    return this.act.db;
  }

  async get(key) {
    checkKey(key);
    if (key.startsWith(RESERVED_PREFIX)) return undefined; // no user value can live there
    const bytes = this.db.get(key);
    return bytes === undefined ? undefined : decodeValue(bytes);
  }

  async put(key, value) {
    checkWritableKey(key);
    const db = this.db;
    const bytes = encodeValue(value, `the value for key "${key}"`);
    db.put(key, bytes);
    if (this.pending.length) this.beside((d) => d.put(key, bytes));
  }

  async delete(key) {
    checkWritableKey(key);
    const existed = this.db.delete(key);
    if (this.pending.length) this.beside((d) => d.delete(key));
    return existed;
  }

  /** Clears every key and the user's SQL tables, atomically; the alarm stays (spec 3.8). */
  async deleteAll() {
    this.db.deleteAll();
    if (this.pending.length) this.beside((d) => d.deleteAll());
  }

  async list(options) {
    const o = listOptions(options);
    const out = new Map();
    for (const [k, v] of this.db.list(o)) out.set(k, decodeValue(v));
    return out;
  }

  /** Atomic: a throw undoes the transaction's own writes and fails the turn with
   *  ActorOutputGateError, even if the caller catches it (spec 3.5). It is a savepoint, so
   *  its KV writes and the SQL run while its callback runs are undone together; KV and alarm
   *  writes made beside it (not through `txn`) are not its own and are put back. */
  async transaction(fn) {
    const db = this.db;
    const turn = this.act.turn;
    const [commit, rollback] = db.savepoint();
    const mine = { beside: [] };
    this.pending.push(mine);
    const own = {
      get: (k) => this.get(k),
      put: async (k, v) => { checkWritableKey(k); this.db.put(k, encodeValue(v, `the value for key "${k}"`)); },
      delete: async (k) => { checkWritableKey(k); return this.db.delete(k); },
      list: (o) => this.list(o),
    };
    try {
      const out = await fn(own);
      commit();
      return out;
    } catch (err) {
      rollback();
      for (const op of mine.beside) op(db);
      turn.gateError ??= new ActorOutputGateError(`transaction() threw in ${turn.what ?? this.act.key}: ${err?.message ?? err}`);
      throw err;
    } finally {
      this.pending.splice(this.pending.indexOf(mine), 1);
    }
  }

  /** Synchronous and atomic; a throw undoes only its own statements (spec 3.6). */
  transactionSync(fn) {
    return transactionSync(this.db, fn);
  }

  async setAlarm(when) {
    if (typeof when !== "number" || !Number.isFinite(when)) throw new TypeError("setAlarm(when) takes milliseconds since the epoch (a number)");
    if (Math.abs(when) > 8.64e15) throw new RangeError(`setAlarm(when): ${when} is outside the range of a Date (±8.64e15 ms since the epoch)`);
    const ms = Math.floor(when);
    this.db.setAlarm(ms);
    if (this.pending.length) this.beside((d) => d.setAlarm(ms));
  }

  async getAlarm() {
    return this.db.getAlarm();
  }

  async deleteAlarm() {
    this.db.deleteAlarm();
    if (this.pending.length) this.beside((d) => d.deleteAlarm());
  }
}
