// Activations, mailboxes, turns and the per-activation cache.
//
// Invariants:
// - one Activation per (type, name) in the whole runtime: Python routes every call for a
//   type to the one isolate that owns it, and this map holds at most one per name;
// - one turn at a time: `pump` awaits each turn's user code before starting the next, so
//   nothing interleaves across `await`;
// - a turn's writes are buffered and sent to Python as one commit when it returns; its
//   reply is released only when Python acks that commit (or, for a turn without writes,
//   the last commit it could have read from). Replies therefore leave in commit order.
// - the cache holds committed-or-queued values; if a commit fails the cache is dropped and
//   every turn that could have seen the failed writes fails too (epoch check).

import { encodeValue, decodeValue, quickCopy } from "./codec.mjs";
import { ABSENT, Storage, TurnWrites, compareKeys, inRange } from "./storage.mjs";
import * as E from "./errors.mjs";
import { StatefulActor, Agent } from "./edge-runtime.mjs";
import { AGENT_MEMBERS } from "./agent.mjs";

const NOT_RPC = new Set(["fetch", "alarm", "webSocket", "constructor"]);
export const fmtKey = (type, name) => `${type}(${JSON.stringify(name)})`;

export class Activation {
  constructor(host, type, name) {
    this.host = host;
    this.type = type;
    this.name = name;
    this.key = fmtKey(type, name);
    this.queue = [];
    this.running = false;
    this.cache = new Map();
    this.complete = false; // after deleteAll the cache is the whole state
    this.epoch = host.epochBase; // unique per isolate: Python remembers failed epochs
    this.lastCommit = null;
    this.commitsInFlight = 0;
    this.current = null; // TurnWrites of the running turn
    this.chain = []; // activations waiting on the running turn (re-entrancy detection)
    this.instance = null;
    this.initGate = null;
    this.lastUsed = Date.now();
    this.storage = new Storage(this);
  }

  construct() {
    const cls = this.host.classes.get(this.type);
    const act = this;
    const ctx = {
      id: this.name,
      storage: this.storage,
      blockConcurrencyWhile(fn) {
        const p = Promise.resolve().then(fn);
        // Several gates (an Agent's and its subclass's): the first call waits for all of them.
        act.initGate = act.initGate ? Promise.all([act.initGate, p]) : p;
        return p;
      },
      setAlarm: (when) => this.storage.setAlarm(when),
      count: () => 0,
      broadcast: () => 0,
    };
    const init = new TurnWrites();
    this.current = init; // storage used while initialising buffers into this init turn
    this.chain = [];
    this.instance = new cls(ctx, this.host.envFor(this));
    return init;
  }

  async read(tx, key) {
    if (tx.writes.has(key)) return tx.writes.get(key);
    if (tx.cleared) return ABSENT;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    if (this.complete) return ABSENT;
    const epoch = this.epoch;
    const bytes = (await this.host.chan.request("get", this.type, this.name, key)) ?? ABSENT;
    if (epoch === this.epoch && !this.cache.has(key)) this.cache.set(key, bytes);
    return bytes;
  }

  /** Wait for every commit this activation has queued (errors are the turns' business). */
  async settled() {
    if (this.lastCommit) await this.lastCommit.catch(() => {});
  }

  async list(tx, o) {
    let base;
    if (tx.cleared || this.complete) {
      base = [];
      if (!tx.cleared) for (const [k, v] of this.cache) if (v !== ABSENT && inRange(k, o)) base.push([k, v]);
    } else {
      await this.settled();
      let overlay = 0;
      for (const k of tx.writes.keys()) if (inRange(k, o)) overlay++;
      const limit = Math.min(o.limit + overlay, 100000);
      base = await this.host.chan.request("list", this.type, this.name, { ...o, limit });
    }
    const merged = new Map(base);
    for (const [k, v] of tx.writes) {
      if (!inRange(k, o)) continue;
      if (v === ABSENT) merged.delete(k); else merged.set(k, v);
    }
    const keys = [...merged.keys()].sort(compareKeys);
    if (o.reverse) keys.reverse();
    return keys.slice(0, o.limit).map((k) => [k, merged.get(k)]);
  }

  enqueue(turn) {
    this.queue.push(turn);
    if (!this.running) this.pump();
  }

  async pump() {
    this.running = true;
    while (this.queue.length) {
      const turn = this.queue.shift();
      this.lastUsed = Date.now();
      await this.run(turn);
    }
    this.running = false;
    this.lastUsed = Date.now();
  }

  /** Construct on first use; the constructor's blockConcurrencyWhile() gates the first call. */
  async ready(turn) {
    if (this.instance) return true;
    let init;
    try {
      init = this.construct();
    } catch (err) {
      this.current = null;
      turn.reject(new E.ActorMethodError(`constructing ${this.key} failed: ${err?.message ?? err}`));
      return false;
    }
    let timer;
    try {
      if (this.initGate) {
        const budget = this.host.methodTimeoutMs;
        await Promise.race([this.initGate, new Promise((_, rej) => {
          timer = setTimeout(() => rej(new E.BlockConcurrencyTimeoutError(`blockConcurrencyWhile() in ${this.key} took longer than ${budget} ms`)), budget);
        })]);
      }
      // What initialisation wrote commits before the first call runs.
      const writes = init.toWire();
      if (writes.length) {
        this.apply(init);
        await this.commit(writes, null);
      }
      return true;
    } catch (err) {
      // Torn down: the next call constructs a fresh instance.
      this.instance = null;
      turn.reject(err instanceof E.BlockConcurrencyTimeoutError ? err : new E.ActorMethodError(`initialising ${this.key} failed: ${err?.message ?? err}`));
      return false;
    } finally {
      clearTimeout(timer);
      this.current = null;
      this.initGate = null;
    }
  }

  async run(turn) {
    if (!(await this.ready(turn))) return;
    let fn;
    let args;
    try {
      if (turn.kind === "call") {
        fn = this.host.method(this.instance, this.type, turn.method);
        args = turn.argsValue ?? decodeValue(turn.args);
      } else if (turn.kind === "alarm") {
        fn = this.instance.alarm;
        args = [{ retryCount: turn.retryCount, isRetry: turn.retryCount > 0 }];
      } else {
        fn = this.instance.fetch;
        args = [turn.request()];
      }
    } catch (err) {
      turn.reject(err);
      return;
    }
    const tx = new TurnWrites();
    const epoch = this.epoch;
    this.current = tx;
    this.chain = turn.chain;
    let timer;
    let value;
    const budget = turn.kind === "alarm" ? this.host.alarmTimeoutMs : this.host.methodTimeoutMs;
    try {
      value = await Promise.race([
        fn.apply(this.instance, args),
        new Promise((_, rej) => {
          timer = setTimeout(() => {
            const cls = turn.kind === "fetch" ? E.ActorFetchTimeoutError : E.ActorMethodTimeoutError;
            rej(new cls(`${this.key}.${turn.method ?? turn.kind}() did not finish within ${budget} ms`));
          }, budget);
        }),
      ]);
    } catch (err) {
      clearTimeout(timer);
      this.current = null;
      this.chain = [];
      turn.reject(toCallerError(err, this, turn));
      return;
    }
    clearTimeout(timer);
    this.current = null;
    this.chain = [];
    let result;
    try {
      if (turn.kind === "fetch") result = await turn.encodeResponse(value);
      else if (turn.kind === "alarm") result = null;
      else result = (turn.local && quickCopy(value)) || encodeValue(value, `the return value of ${this.type}.${turn.method}()`);
    } catch (err) {
      turn.reject(err);
      return;
    }
    const writes = tx.toWire();
    let release = this.lastCommit;
    if (writes.length || turn.kind === "alarm") {
      this.apply(tx);
      release = this.commit(writes, turn.kind === "alarm" ? turn.when : null);
    }
    const gateError = tx.gateError;
    const finish = () => {
      if (this.epoch !== epoch) {
        turn.reject(new E.ActorOutputGateError(`${this.key}: an earlier write this call depended on failed to commit`));
      } else if (gateError) {
        turn.reject(new E.ActorOutputGateError(`transaction() threw in ${this.key}.${turn.method}(): ${gateError?.message ?? gateError}`));
      } else {
        turn.resolve(result);
      }
    };
    if (!release) finish();
    else release.then(finish, (err) => turn.reject(new E.ActorOutputGateError(`${this.key}: commit failed: ${err?.message ?? err}`)));
  }

  apply(tx) {
    if (tx.cleared) { this.cache.clear(); this.complete = true; }
    for (const [k, v] of tx.writes) this.cache.set(k, v);
  }

  commit(writes, consumeAlarm) {
    const epoch = this.epoch;
    const p = this.host.chan.request("commit", this.type, this.name, epoch, writes, consumeAlarm);
    this.lastCommit = p;
    this.commitsInFlight++;
    const settle = () => { this.commitsInFlight--; };
    p.then(settle, settle);
    p.catch(() => {
      if (this.epoch === epoch) {
        this.epoch++;
        this.cache = new Map();
        this.complete = false;
        this.lastCommit = null;
      }
    });
    return p;
  }
}

const RUNTIME_ERRORS = new Set(Object.values(E.ERRORS));

function toCallerError(err, act, turn) {
  // The runtime's own named errors (a timeout, a cycle, a codec failure, a failed nested
  // call) pass through unchanged, so callers can branch on err.name however deep it arose.
  if (err && RUNTIME_ERRORS.has(err.constructor)) return err;
  const message = err instanceof Error ? err.message : String(err);
  const out = new E.ActorMethodError(message);
  if (err instanceof Error && err.stack) out.userStack = err.stack;
  return out;
}

/** Look up an RPC-callable method: public, defined by the subclass, a function. */
export function findMethod(cache, instance, type, method) {
  const cls = instance.constructor;
  let table = cache.get(cls);
  if (!table) { table = new Map(); cache.set(cls, table); }
  let fn = table.get(method);
  if (fn) return fn;
  if (method.startsWith("_")) {
    throw new E.ActorPrivateMethodError(`${type}.${method}() is private: methods whose names start with "_" cannot be called through a stub`);
  }
  // An Agent's SDK members stay protected even where a subclass overrides them (initialState).
  if (!NOT_RPC.has(method) && !(instance instanceof Agent && AGENT_MEMBERS.has(method))) {
    let proto = Object.getPrototypeOf(instance);
    while (proto && proto !== StatefulActor.prototype && proto !== Agent.prototype && proto !== Object.prototype) {
      const desc = Object.getOwnPropertyDescriptor(proto, method);
      if (desc) { if (typeof desc.value === "function") fn = desc.value; break; }
      proto = Object.getPrototypeOf(proto);
    }
  }
  if (!fn) {
    throw new E.ActorUnknownMethodError(`${type} has no callable method "${method}"`);
  }
  table.set(method, fn);
  return fn;
}
