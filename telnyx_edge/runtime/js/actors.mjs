// Activations, mailboxes and turns.
//
// Invariants:
// - one Activation per (type, name) in the whole runtime: Python routes every call for a
//   type to the one isolate that owns it, this map holds at most one per name, and the
//   activation holds its database's write lock (actordb.mjs), so a second is refused;
// - one turn at a time: `pump` awaits each turn's user code before starting the next, so
//   nothing interleaves across `await`; a turn that times out tears the activation down
//   (its instance can never touch storage again) and a fresh one takes the queue only after
//   the old one has closed its database;
// - a turn runs in a savepoint: if it throws, its KV, SQL and alarm writes all vanish;
// - the output gate: a turn's reply is released only when its writes (and every write it
//   could have read) are committed and fsync'd; replies leave in turn order.

import { encodeValue, decodeValue, quickCopy } from "./codec.mjs";
import { Storage } from "./storage.mjs";
import { ActorDatabase } from "./actordb.mjs";
import * as E from "./errors.mjs";
import { StatefulActor, Agent } from "./edge-runtime.mjs";
import { AGENT_MEMBERS } from "./agent.mjs";
import { broadcast, closeActivationSockets, socketCount } from "./actor-sockets.mjs";
import { inActor, observeTurn, report, reportError } from "./console.mjs";
import { thrownMessage, userStack } from "./stacks.mjs";

const NOT_RPC = new Set(["fetch", "alarm", "webSocket", "constructor"]);
export const fmtKey = (type, name) => `${type}(${JSON.stringify(name)})`;

export class Activation {
  constructor(host, type, name, predecessor = null) {
    this.host = host;
    this.type = type;
    this.name = name;
    this.key = fmtKey(type, name);
    this.queue = [];
    this.running = false;
    this.turn = null; // { gateError } while a turn's user code may use storage
    this.chain = []; // activations waiting on the running turn (re-entrancy detection)
    this.instance = null;
    this.initGates = null;
    this.db = null;
    this.retired = false;
    this.closed = null; // resolves once a retired activation has closed its database
    this.predecessor = predecessor;
    this.lastUsed = Date.now();
    this.touched = true; // since the last stats report to Python
    this.storage = new Storage(this);
  }

  openDb() {
    if (this.db) return;
    if (this.host.handedOver) {
      // Never reached by routing (Router.toActor, Host.hosts); a last guard of promise 1.
      throw new E.ActorStorageError(`${this.key} is hosted by the new revision now (this one handed its actors over); retry`);
    }
    this.db = new ActorDatabase(this.host.stateDir, this.type, this.name, {
      onAlarm: (fire) => this.host.alarmChanged(this.type, this.name, fire),
    }).open();
  }

  construct() {
    const cls = this.host.classes.get(this.type);
    const act = this;
    const ctx = {
      id: this.name,
      storage: this.storage,
      blockConcurrencyWhile(fn) {
        // Every callback passed during construction holds back the first turn until all settle.
        const p = Promise.resolve().then(fn);
        (act.initGates ??= []).push(p);
        return p;
      },
      setAlarm: (when) => this.storage.setAlarm(when),
      count: () => socketCount(this),
      broadcast: (data) => broadcast(this, data),
    };
    this.chain = [];
    this.instance = inActor(this, () => new cls(ctx, this.host.envFor(this)));
  }

  enqueue(turn) {
    observeTurn(this, turn); // the invocation record when it settles (console.mjs)
    this.queue.push(turn);
    if (!this.running) this.pump();
  }

  async pump() {
    this.running = true;
    // A swap: the old revision still holds the actors; the turns wait until it let go.
    if (this.host.actorGate) await this.host.actorGate;
    if (this.predecessor) {
      await this.predecessor.closed;
      this.predecessor = null;
    }
    while (this.queue.length && !this.retired) {
      const turn = this.queue.shift();
      // A turn sent by the main thread begins here: a Worker that goes from now on does not
      // get it sent again to its replacement (delivery.mjs); one still queued does.
      if (turn.id !== undefined) this.host.began(turn.id);
      this.lastUsed = Date.now();
      this.touched = true;
      await this.run(turn);
    }
    this.running = false;
    this.lastUsed = Date.now();
  }

  /** Open storage and construct on first use; blockConcurrencyWhile() gates the first turn. */
  async ready(turn) {
    if (this.instance) return true;
    try {
      this.openDb();
    } catch (err) {
      turn.reject(err instanceof E.ActorStorageError ? err : new E.ActorStorageError(`opening the storage of ${this.key} failed: ${err?.message ?? err}`));
      return false;
    }
    this.db.beginTurn();
    this.turn = { gateError: null };
    let timer;
    try {
      this.construct();
      const gates = this.initGates;
      if (gates) {
        const budget = this.host.methodTimeoutMs;
        const all = (async () => { for (let i = 0; i < gates.length; i++) await gates[i]; })();
        await Promise.race([all, new Promise((_, rej) => {
          timer = setTimeout(() => rej(new E.BlockConcurrencyTimeoutError(`blockConcurrencyWhile() in ${this.key} took longer than ${budget} ms`)), budget);
        })]);
      }
      // What initialisation wrote commits with the first batch, before any reply leaves.
      this.db.endTurn(true);
      return true;
    } catch (err) {
      // Torn down: the next call constructs a fresh instance; initialisation's writes vanish.
      this.db.endTurn(false);
      this.instance = null;
      reportError("the constructor threw", err, this);
      turn.reject(err instanceof E.BlockConcurrencyTimeoutError ? err : new E.ActorMethodError(`constructing ${this.key} failed: ${err?.message ?? err}`));
      return false;
    } finally {
      clearTimeout(timer);
      this.turn = null;
      this.initGates = null;
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
      } else if (turn.kind === "ws") {
        fn = turn.handler(this.instance); // a WebSocket event (actor-sockets.mjs)
        args = turn.args;
      } else {
        fn = this.instance.fetch;
        args = [turn.request()];
      }
    } catch (err) {
      turn.reject(err);
      return;
    }
    const db = this.db;
    try {
      db.beginTurn();
    } catch (err) {
      turn.reject(err);
      this.retire();
      return;
    }
    const state = { gateError: null, what: `${this.key}.${turn.method ?? turn.kind}()` };
    this.turn = state;
    this.chain = turn.chain;
    let alarmRow = null;
    if (turn.kind === "alarm") {
      // The firing alarm is consumed as the handler starts: getAlarm() inside alarm() is null
      // unless the handler re-arms. A throw rolls the consumption back with everything else.
      alarmRow = db.takeDueAlarm(Date.now());
      if (!alarmRow) {
        db.endTurn(true);
        this.turn = null;
        this.chain = [];
        turn.outcome = null; // nothing was due: no invocation to record
        turn.resolve(db.alarmRow()?.alarm_fire_ms ?? null);
        return;
      }
      const retryCount = Math.max(alarmRow.alarm_retries, turn.failures ?? 0);
      if (retryCount > this.host.alarmMaxRetries) {
        db.endTurn(true); // consumed: given up after deliveries that never came back
        return this.release(turn, null, state, () => null);
      }
      alarmRow.alarm_retries = retryCount;
      args = [{ retryCount, isRetry: retryCount > 0 }];
    }
    let timer;
    let timedOut = false;
    let value;
    const budget = turn.kind === "alarm" ? this.host.alarmTimeoutMs : this.host.methodTimeoutMs;
    try {
      value = await Promise.race([
        inActor(this, () => fn.apply(this.instance, args)),
        new Promise((_, rej) => {
          timer = setTimeout(() => {
            timedOut = true;
            const cls = turn.kind === "fetch" ? E.ActorFetchTimeoutError : E.ActorMethodTimeoutError;
            rej(new cls(`${this.key}.${turn.method ?? turn.kind}() did not finish within ${budget} ms`));
          }, budget);
        }),
      ]);
      clearTimeout(timer);
      if (turn.kind === "fetch") value = await turn.encodeResponse(value);
      else if (turn.kind === "call") value = (turn.local && quickCopy(value)) || encodeValue(value, `the return value of ${this.type}.${turn.method}()`);
    } catch (err) {
      clearTimeout(timer);
      this.turn = null;
      this.chain = [];
      db.endTurn(false);
      if (timedOut) this.retire();
      if (turn.kind !== "alarm") reportError(`${turn.method ?? turn.kind}() threw`, err, this);
      if (turn.kind === "alarm") {
        reportError("alarm() threw", err, this);
        db.beginTurn();
        db.alarmFailed(alarmRow, this.host.alarmRetryDelayMs, this.host.alarmMaxRetries, Date.now());
        if (alarmRow.alarm_retries >= this.host.alarmMaxRetries) {
          report("error", `alarm() of ${this.key} failed ${alarmRow.alarm_retries + 1} times; the alarm is deleted`, this);
        }
        db.endTurn(true);
        // Delivered: the retry (or the deletion) is recorded in the actor's database and reported
        // as the next fire time, so the scheduler must not also count it as a failed delivery
        // and redeliver on a backoff of its own (that ran a phantom alarm turn after the delete).
        turn.outcome = toCallerError(err, this, turn).name;
        return this.release(turn, null, state, () => db.alarmRow()?.alarm_fire_ms ?? null);
      }
      turn.reject(toCallerError(err, this, turn));
      return;
    }
    this.turn = null;
    this.chain = [];
    db.endTurn(true);
    if (turn.kind === "alarm") return this.release(turn, null, state, () => db.alarmRow()?.alarm_fire_ms ?? null);
    this.release(turn, value, state);
  }

  /** The output gate: resolve (or reject) the turn once what it wrote or read is durable. */
  release(turn, value, state, produce = null) {
    const finish = () => {
      if (state.gateError) return turn.reject(state.gateError);
      if (!produce) return turn.resolve(value);
      let out;
      try { out = produce(); } catch (err) { return turn.reject(err); }
      turn.resolve(out);
    };
    const gate = this.db.durable();
    if (!gate) return finish();
    gate.then(finish, (err) => {
      turn.reject(err instanceof E.ActorStorageError ? err : new E.ActorOutputGateError(`${this.key}: commit failed: ${err?.message ?? err}`));
      this.retire();
    });
  }

  /** Tear down after a timeout or a failed commit: this instance never runs or stores again. */
  retire() {
    if (this.retired) return;
    this.retired = true;
    this.instance = null;
    closeActivationSockets(this, 1011, "the actor was torn down (a turn ran past its budget or its commit failed)");
    this.closed = this.close();
    this.host.retired(this);
  }

  async close() {
    const db = this.db;
    if (!db) return;
    await Promise.resolve(); // a retiring turn finishes its own bookkeeping first
    // A turn still running (retired under it by a failed batch) ends before the database
    // closes: closing under it would leave that turn unsettled. It is bounded by its budget.
    while (this.turn !== null || db.inTurn) await new Promise((resolve) => setTimeout(resolve, 10));
    while (!db.idle && !db.broken) {
      const gate = db.durable() ?? db.syncing;
      if (!gate) break;
      try { await gate; } catch { /* the turns waiting on it were told */ }
    }
    try { db.close(); } catch (err) { logError(`closing the storage of ${this.key} failed`, err); }
  }

  get idle() {
    // An open WebSocket keeps its activation in memory (spec 3.9).
    return !this.running && !this.queue.length && (!this.db || this.db.idle) && !this.sockets?.size;
  }
}

/** Report an error of (or around) user code: attributed, with its stack mapped (console.mjs). */
export function logError(what, err) {
  reportError(what, err);
}

const RUNTIME_ERRORS = new Set(Object.values(E.ERRORS));

function toCallerError(err, act, turn) {
  // The runtime's own named errors (a timeout, a cycle, a codec failure, a failed nested
  // call) pass through unchanged, so callers can branch on err.name however deep it arose.
  if (err && RUNTIME_ERRORS.has(err.constructor)) return err;
  const message = thrownMessage(err);
  const out = new E.ActorMethodError(message);
  // The caller's err.stack: the frames of the method that threw, mapped to its .ts source, with
  // the runtime's own frames dropped (stacks.mjs); it crosses Workers with the error (errorWire).
  // A thrown non-Error has no frames: its stack is the one line naming what was thrown.
  out.userStack = out.stack = userStack(err, out.name, message);
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
