// An agent's durable tasks (agent-sdk-spec.md §4): booking, cancelling, listing, and the drain
// that `Agent.alarm()` runs. Tasks live under `agent:task:` with a due-time index under
// `agent:due:` (agent-storage.mjs); the actor's one alarm always points at the earliest one.
//
// A drain runs every task due when the alarm fired and catches each one's error, so the alarm
// turn itself succeeds: a failing task's writes stand, and its retry (or parking) is recorded
// in the same commit. Tasks booked while draining run in a later alarm turn.

import { TASK, DUE, TASK_ORDER, pad, dueKey, dueOfKey, orderOfKey, scan, clean } from "./agent-storage.mjs";

const DEFAULT_MAX_RETRIES = 5;
const MAX_BACKOFF_MS = 300_000;
const MAX_DUE_MS = 8.64e15; // the largest time a Date can hold

// Set by the host from its configuration (host.mjs); the defaults are the platform's.
const limits = {
  alarmTimeoutMs: 300_000,
  retryBaseMs: retryBaseFromEnv(),
};

function retryBaseFromEnv() {
  // TELNYX_EDGE_ALARM_RETRY_DELAY_MS shortens the first retry delay (tests); default 1 s.
  const raw = globalThis.process?.env?.TELNYX_EDGE_ALARM_RETRY_DELAY_MS ?? "";
  return /^\d+$/.test(raw) ? Math.max(1, Number(raw)) : 1000;
}

/** Called once by the host with its limits: `alarmTimeoutMs` is the budget of one alarm turn. */
export function configureAgents({ alarmTimeoutMs } = {}) {
  if (Number.isFinite(alarmTimeoutMs) && alarmTimeoutMs > 0) limits.alarmTimeoutMs = alarmTimeoutMs;
}

function backoffMs(attempts) {
  // attempts >= 1 consecutive failures: base, 2x base, 4x base, ... capped at 5 minutes (spec §4.4).
  return Math.min(MAX_BACKOFF_MS, limits.retryBaseMs * 2 ** Math.min(attempts - 1, 30));
}

function describeError(err) {
  return clean(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
}

function checkOptions(opts, where) {
  if (opts === undefined || opts === null) return { id: undefined, maxRetries: DEFAULT_MAX_RETRIES };
  if (typeof opts !== "object") throw new TypeError(`${where}: options must be an object { id?, maxRetries? }`);
  if (opts.id !== undefined && (typeof opts.id !== "string" || opts.id.length === 0)) {
    throw new TypeError(`${where}: options.id must be a non-empty string`);
  }
  const maxRetries = opts.maxRetries ?? DEFAULT_MAX_RETRIES;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new RangeError(`${where}: options.maxRetries must be a whole number >= 0, got ${opts.maxRetries}`);
  }
  return { id: opts.id, maxRetries };
}

/** A stored task as listSchedules() shows it: { id, name, payload?, due, everyMs?, attempts, maxRetries, createdAt }. */
function publicRecord(rec) {
  const out = { id: rec.id, name: rec.name };
  if (rec.payload !== undefined) out.payload = rec.payload;
  out.due = rec.due;
  if (rec.everyMs !== undefined) out.everyMs = rec.everyMs;
  out.attempts = rec.attempts;
  out.maxRetries = rec.maxRetries;
  out.createdAt = rec.createdAt;
  return out;
}

export class Scheduler {
  /**
   * storage: the actor's ctx.storage; label: "Type(\"name\")" for log lines;
   * dispatch(rec): runs one task (its method or onTask) and resolves when it is done.
   */
  constructor(storage, label, dispatch) {
    this.storage = storage;
    this.label = label;
    this.dispatch = dispatch;
  }

  /** Book a task (an upsert when opts.id is given); resolves to its id. Writes belong to the caller's turn. */
  async book(where, delayMs, everyMs, method, payload, opts) {
    if (typeof method !== "string" || method.length === 0) throw new TypeError(`${where} needs the name of a method (a non-empty string)`);
    const { id: given, maxRetries } = checkOptions(opts, where);
    const now = Date.now();
    const due = Math.floor(now + delayMs);
    if (!(due <= MAX_DUE_MS)) throw new RangeError(`${where}: the delay is too far in the future`);
    const storage = this.storage;
    const id = given ?? crypto.randomUUID();
    const order = ((await storage.get(TASK_ORDER)) ?? 0) + 1;
    const rec = { id, name: method, payload, due, attempts: 0, maxRetries, createdAt: new Date(now), order };
    if (everyMs !== undefined) rec.everyMs = everyMs;
    const old = given === undefined ? undefined : await storage.get(TASK + id);
    await storage.put(TASK + id, rec); // a payload the codec refuses throws here, before any other write
    if (old !== undefined) await storage.delete(dueKey(old.due, old.order)); // upsert: the old booking goes
    await storage.put(dueKey(due, order), id);
    await storage.put(TASK_ORDER, order);
    await this.arm(false);
    return id;
  }

  /** Remove a pending task; resolves to true when there was one. */
  async cancel(id) {
    if (typeof id !== "string") throw new TypeError("cancelSchedule(id) takes the id a scheduling call returned");
    const rec = await this.storage.get(TASK + id);
    if (rec === undefined) return false;
    await this.drop(rec);
    await this.arm(false);
    return true;
  }

  /** Every pending task, soonest first (then in creation order). */
  async list() {
    const out = [];
    for await (const [, rec] of scan(this.storage, { prefix: TASK })) out.push(rec);
    out.sort((a, b) => a.due - b.due || a.order - b.order);
    return out.map(publicRecord);
  }

  /** The earliest pending due time (ms), or undefined. */
  async earliest() {
    const first = await this.storage.list({ prefix: DUE, limit: 1 });
    for (const k of first.keys()) return dueOfKey(k);
    return undefined;
  }

  /** Point the alarm at the earliest task (in an alarm turn the firing alarm is consumed anyway). */
  async arm(inAlarm) {
    const next = await this.earliest();
    if (next !== undefined) await this.storage.setAlarm(next);
    else if (!inAlarm) await this.storage.deleteAlarm();
  }

  /** On activation: make sure an alarm fires no later than the earliest task (it may have been lost). */
  async activate() {
    const next = await this.earliest();
    if (next === undefined) return;
    const armed = await this.storage.getAlarm();
    if (armed === null || armed === undefined || armed > next) await this.storage.setAlarm(next);
  }

  /** The alarm turn: run the tasks due now, record each outcome, re-arm. Never rejects for a task's error. */
  async drain() {
    const start = Date.now();
    // Stop before the runtime's alarm budget so the bookkeeping still commits.
    const deadline = start + limits.alarmTimeoutMs - Math.min(2000, limits.alarmTimeoutMs / 10);
    const due = [];
    for await (const [k, id] of scan(this.storage, { prefix: DUE, end: DUE + pad(start + 1, 16) })) {
      due.push({ id, order: orderOfKey(k) });
    }
    for (const entry of due) {
      const rec = await this.storage.get(TASK + entry.id);
      if (rec === undefined || rec.order !== entry.order) continue; // cancelled or re-booked by an earlier task
      const remaining = deadline - Date.now();
      if (remaining <= 0) break; // out of budget: the rest stay due and the alarm fires again at once
      const error = await this.run(rec, remaining);
      await this.settle(rec, error, start);
      if (error?.overran) break; // the task may still be running: start nothing else in this turn
    }
    await this.arm(true);
  }

  /** Run one task within budgetMs; resolves to null on success or to its error. */
  async run(rec, budgetMs) {
    let timer;
    try {
      await Promise.race([
        Promise.resolve().then(() => this.dispatch(rec)),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            const err = new Error(`did not finish within ${budgetMs} ms (the alarm turn's budget)`);
            err.overran = true;
            reject(err);
          }, budgetMs);
        }),
      ]);
      return null;
    } catch (err) {
      return err ?? new Error(String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Record a run: done, next interval, retry with backoff, or parked. */
  async settle(rec, error, start) {
    const current = await this.storage.get(TASK + rec.id);
    const untouched = current !== undefined && current.order === rec.order;
    if (!error) {
      if (!untouched) return; // the handler re-booked or cancelled its own id: that stands
      if (rec.everyMs !== undefined) await this.save(rec, { attempts: 0, due: start + rec.everyMs });
      else await this.drop(rec);
      return;
    }
    const what = `[agent] ${this.label()}: task ${clean(JSON.stringify(rec.name))} (id ${clean(rec.id)})`;
    if (current === undefined) {
      console.error(`${what} failed and was cancelled by its handler: ${describeError(error)}`);
      return;
    }
    const attempts = rec.attempts + 1;
    const base = untouched ? rec : current; // a re-booking survives but still counts the failure
    if (attempts > base.maxRetries) {
      await this.drop(base);
      console.error(`${what} parked after ${attempts} failed ${attempts === 1 ? "attempt" : "attempts"}: ${describeError(error)}`);
      return;
    }
    const delay = backoffMs(attempts);
    await this.save(base, { attempts, due: Math.max(untouched ? 0 : base.due, Date.now() + delay) });
    console.error(`${what} failed (attempt ${attempts} of ${base.maxRetries + 1}), retrying in ${delay} ms: ${describeError(error)}`);
  }

  async save(rec, changes) {
    const next = { ...rec, ...changes };
    if (next.due !== rec.due) await this.storage.delete(dueKey(rec.due, rec.order));
    await this.storage.put(TASK + rec.id, next);
    await this.storage.put(dueKey(next.due, next.order), rec.id);
  }

  async drop(rec) {
    await this.storage.delete(TASK + rec.id);
    await this.storage.delete(dueKey(rec.due, rec.order));
  }
}
