// The Agent SDK: `Agent<Env, State>` on top of StatefulActor (agent-sdk-spec.md §1-§6).
//
// Built only on the public actor API (ctx.storage get/put/delete/list, setAlarm/getAlarm/
// deleteAlarm, blockConcurrencyWhile), so it runs unchanged on any storage engine underneath.
// Everything lives in the actor's own key-value storage under the `agent:` prefix:
//
//   agent:state                      the state value (one entry, written whole)
//   agent:msgs                       the message count (= seq of the last message)
//   agent:msg:<seq, 12 digits>       one message row { role, content, name?, toolCalls?, toolCallId?, at }
//   agent:task:<id>                  one pending task (see TaskRecord below, plus `order`)
//   agent:due:<due ms, 16 digits>:<order, 12 digits>   -> id; the due-time index the alarm follows
//   agent:tasks                      the last task `order` handed out (creation order)
//
// The platform keeps these in SQL tables; here they are KV entries until actor SQL lands.
// Turn rules are the actor's: everything a method writes commits when it returns, or not at
// all when it throws. Tasks run inside the actor's alarm turn (Agent owns `alarm()`), which
// catches each task's error, so a failing task's writes stand and its retry is recorded.

const STATE = "agent:state";
const MSG_COUNT = "agent:msgs";
const MSG = "agent:msg:";
const TASK = "agent:task:";
const DUE = "agent:due:";
const TASK_ORDER = "agent:tasks";

const ROLES = new Set(["system", "user", "assistant", "tool"]);
const DEFAULT_MAX_RETRIES = 5;
const MAX_BACKOFF_MS = 300_000;
const MAX_DUE_MS = 8.64e15; // the largest time a Date can hold
const PAGE = 1000; // ctx.storage.list() returns at most 1000 entries per call

/** Members the SDK defines: never RPC-callable through a stub, whoever defines them (spec §1.6). */
export const AGENT_MEMBERS = new Set([
  "getState", "setState", "replaceState", "initialState", "onStateChanged", "onTask",
  "queue", "schedule", "every", "cancelSchedule", "listSchedules", "messages", "alarm",
]);

/** Members a subclass must not redefine: the scheduler, state and log depend on them (spec §1.5). */
const FINAL_MEMBERS = [
  "getState", "setState", "replaceState", "queue", "schedule", "every", "cancelSchedule",
  "listSchedules", "messages", "alarm",
];

/** Names that are never task methods even when the class has them (they go to onTask). */
const NOT_TASKS = new Set([...AGENT_MEMBERS, "constructor", "fetch", "webSocket"]);

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

const pad = (n, width) => String(n).padStart(width, "0");
const dueKey = (due, order) => `${DUE}${pad(due, 16)}:${pad(order, 12)}`;
const msgKey = (seq) => `${MSG}${pad(seq, 12)}`;

function isPlainObject(v) {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function setOwn(obj, key, value) {
  // defineProperty, not assignment: a "__proto__" key from JSON stays a plain key.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * RFC 7396 JSON merge patch (spec §2.2): plain objects merge recursively, `null` deletes the
 * key, any other value (array, string, Date, Map, ...) replaces wholesale; `undefined` is not
 * JSON and leaves the key untouched. Returns a new value; neither argument is modified.
 */
export function mergePatch(target, patch) {
  if (!isPlainObject(patch)) return patch;
  const out = {};
  if (isPlainObject(target)) for (const k of Object.keys(target)) setOwn(out, k, target[k]);
  for (const k of Object.keys(patch)) {
    const v = patch[k];
    if (v === undefined) continue;
    if (v === null) delete out[k];
    else setOwn(out, k, mergePatch(Object.prototype.hasOwnProperty.call(out, k) ? out[k] : undefined, v));
  }
  return out;
}

function clean(text) {
  // One terminal line, no control characters from user data.
  return String(text).replace(/[\u0000-\u001f\u007f]/g, (c) => (c === "\n" ? " | " : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

function describeError(err) {
  return clean(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
}

function backoffMs(attempts) {
  // attempts >= 1 consecutive failures: base, 2x base, 4x base, ... capped at 5 minutes (spec §4.4).
  return Math.min(MAX_BACKOFF_MS, limits.retryBaseMs * 2 ** Math.min(attempts - 1, 30));
}

/** Every entry under `prefix` (oldest key first, or newest first with reverse), paging through list(). */
async function* scan(storage, options) {
  let cursor;
  let remaining = options.limit ?? Infinity;
  while (remaining > 0) {
    const page = await storage.list({
      ...options,
      limit: Math.min(PAGE, remaining),
      ...(cursor === undefined ? {} : options.reverse ? { end: cursor } : { startAfter: cursor }),
    });
    for (const [k, v] of page) { cursor = k; remaining--; yield [k, v]; }
    if (page.size < PAGE) return;
  }
}

function toStored(key, row) {
  const msg = { role: row.role, content: row.content };
  if (row.name !== undefined) msg.name = row.name;
  if (row.toolCalls !== undefined) msg.toolCalls = row.toolCalls;
  if (row.toolCallId !== undefined) msg.toolCallId = row.toolCallId;
  msg.seq = Number(key.slice(MSG.length));
  msg.at = row.at;
  return msg;
}

function checkMessage(msg, where) {
  if (!isPlainObject(msg)) throw new TypeError(`${where} takes a message object { role, content }`);
  if (!ROLES.has(msg.role)) throw new TypeError(`${where}: role must be "system", "user", "assistant" or "tool", got ${JSON.stringify(msg.role)}`);
  if (typeof msg.content !== "string") throw new TypeError(`${where}: content must be a string, got ${typeof msg.content}`);
  if (msg.name !== undefined && typeof msg.name !== "string") throw new TypeError(`${where}: name must be a string`);
  if (msg.toolCallId !== undefined && typeof msg.toolCallId !== "string") throw new TypeError(`${where}: toolCallId must be a string`);
  if (msg.toolCalls !== undefined) {
    if (!Array.isArray(msg.toolCalls)) throw new TypeError(`${where}: toolCalls must be an array of { id, name, args }`);
    for (const call of msg.toolCalls) {
      if (!isPlainObject(call) || typeof call.id !== "string" || typeof call.name !== "string") {
        throw new TypeError(`${where}: each tool call needs a string id and name`);
      }
    }
  }
  const row = { role: msg.role, content: msg.content, at: new Date() };
  if (msg.name !== undefined) row.name = msg.name;
  if (msg.toolCalls !== undefined) row.toolCalls = msg.toolCalls.map((c) => ({ id: c.id, name: c.name, args: c.args }));
  if (msg.toolCallId !== undefined) row.toolCallId = msg.toolCallId;
  return row;
}

/** `this.messages`: the append-only conversation log of one agent instance (spec §3). */
export class MessageLog {
  #storage;

  constructor(storage) { this.#storage = storage; }

  /** Append `{ role, content }`; resolves to its seq (1, 2, 3, ...). */
  add(role, content) {
    return this.append({ role, content });
  }

  /** Append one message; the row and the count commit together with the turn. */
  async append(msg) {
    const row = checkMessage(msg, "messages.append()");
    const seq = (await this.count()) + 1;
    await this.#storage.put(msgKey(seq), row); // a CodecError here has written nothing
    await this.#storage.put(MSG_COUNT, seq);
    return seq;
  }

  /** Append several messages, all or none; resolves to the last seq (the count when empty). */
  async appendMany(msgs) {
    if (!Array.isArray(msgs)) throw new TypeError("messages.appendMany() takes an array of messages");
    const rows = msgs.map((m, i) => checkMessage(m, `messages.appendMany() item ${i}`));
    const first = (await this.count()) + 1;
    let written = 0;
    try {
      for (; written < rows.length; written++) await this.#storage.put(msgKey(first + written), rows[written]);
    } catch (err) {
      // Undo the rows already buffered: the batch is all or nothing, and the turn may go on.
      for (let i = 0; i < written; i++) await this.#storage.delete(msgKey(first + i));
      throw err;
    }
    if (rows.length) await this.#storage.put(MSG_COUNT, first + rows.length - 1);
    return first + rows.length - 1;
  }

  /** The whole log, oldest first. */
  async all() {
    const out = [];
    for await (const [k, row] of scan(this.#storage, { prefix: MSG })) out.push(toStored(k, row));
    return out;
  }

  /** last(): the newest message or undefined; last(n): the newest n, oldest first. */
  async last(n) {
    if (n === undefined) {
      const page = await this.#storage.list({ prefix: MSG, reverse: true, limit: 1 });
      for (const [k, row] of page) return toStored(k, row);
      return undefined;
    }
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`messages.last(n) takes a whole number >= 0, got ${n}`);
    if (n === 0) return [];
    const out = [];
    for await (const [k, row] of scan(this.#storage, { prefix: MSG, reverse: true, limit: n })) out.push(toStored(k, row));
    return out.reverse();
  }

  /** How many messages the log holds (= the seq of the last one). */
  async count() {
    return (await this.#storage.get(MSG_COUNT)) ?? 0;
  }

  /** OpenAI Chat Completions `messages` (system included; tool calls and results mapped). */
  async toOpenAI() {
    return (await this.all()).map((m) => {
      if (m.role === "tool") {
        const out = { role: "tool", content: m.content, tool_call_id: m.toolCallId ?? "" };
        if (m.name !== undefined) out.name = m.name;
        return out;
      }
      const out = { role: m.role, content: m.content };
      if (m.name !== undefined) out.name = m.name;
      if (m.role === "assistant" && m.toolCalls?.length) {
        out.tool_calls = m.toolCalls.map((c) => ({
          id: c.id, type: "function",
          function: { name: c.name, arguments: typeof c.args === "string" ? c.args : JSON.stringify(c.args ?? {}) },
        }));
      }
      return out;
    });
  }

  /** Anthropic Messages `messages`: no system turns; tool calls as tool_use, results as tool_result. */
  async toAnthropic() {
    const out = [];
    for (const m of await this.all()) {
      if (m.role === "system") continue;
      if (m.role === "tool") {
        const block = { type: "tool_result", tool_use_id: m.toolCallId ?? "", content: m.content };
        const prev = out[out.length - 1];
        // Consecutive results answer one assistant turn: they share one user turn.
        if (prev?.role === "user" && Array.isArray(prev.content) && prev.content.every((b) => b.type === "tool_result")) prev.content.push(block);
        else out.push({ role: "user", content: [block] });
      } else if (m.role === "assistant" && m.toolCalls?.length) {
        const blocks = m.content ? [{ type: "text", text: m.content }] : [];
        for (const c of m.toolCalls) blocks.push({ type: "tool_use", id: c.id, name: c.name, input: c.args ?? {} });
        out.push({ role: "assistant", content: blocks });
      } else {
        out.push({ role: m.role, content: m.content });
      }
    }
    return out;
  }

  /** Plain `{ role, content }` objects (tool-call details dropped), as LangGraph accepts them. */
  async toLangChain() {
    return (await this.all()).map((m) => ({ role: m.role, content: m.content }));
  }
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

const checkedClasses = new WeakSet();

function checkSubclass(instance, Agent) {
  const cls = instance.constructor;
  if (checkedClasses.has(cls)) return;
  for (let p = Object.getPrototypeOf(instance); p && p !== Agent.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of FINAL_MEMBERS) {
      if (Object.prototype.hasOwnProperty.call(p, name)) {
        const why = name === "alarm"
          ? "the Agent SDK owns the alarm slot and runs queue()/schedule()/every() tasks from it; use a task instead"
          : `${name} belongs to the Agent SDK`;
        throw new TypeError(`${cls.name} must not override ${name}(): ${why}`);
      }
    }
  }
  checkedClasses.add(cls);
}

/** Build the Agent class on the runtime's StatefulActor (a function, so the modules have no import cycle). */
export function defineAgent(StatefulActor) {
  class Agent extends StatefulActor {
    constructor(ctx, env) {
      super(ctx, env);
      checkSubclass(this, Agent);
      // Non-writable and non-configurable: a subclass field named `messages` fails loudly.
      Object.defineProperty(this, "messages", { value: new MessageLog(ctx.storage), enumerable: false });
      // The last state read or written (one example reads it as `__state`); a cache only.
      Object.defineProperty(this, "__state", { value: undefined, writable: true, enumerable: false });
      // Re-arm the alarm for the earliest pending task before the first call (spec §1.3): a
      // lost alarm never strands a task.
      ctx.blockConcurrencyWhile(() => this.#activate());
    }

    async #activate() {
      const storage = this.ctx.storage;
      const stored = await storage.get(STATE);
      if (stored !== undefined) this.__state = stored;
      const next = await this.#earliest();
      if (next === undefined) return;
      const armed = await storage.getAlarm();
      if (armed === null || armed === undefined || armed > next) await storage.setAlarm(next);
    }

    // ---- hooks --------------------------------------------------------------------------

    /** The state before anything was stored. Override it; the default is `{}`. */
    initialState() {
      return {};
    }

    /** Runs after each setState()/replaceState(), within the same turn. */
    async onStateChanged(_next, _prev) {}

    /** A due task whose name is no method of the class. The default drops it (delivered). */
    async onTask(_name, _payload, _ctx) {}

    // ---- state --------------------------------------------------------------------------

    async getState() {
      const stored = await this.ctx.storage.get(STATE);
      const state = stored === undefined ? this.initialState() : stored;
      this.__state = state;
      return state;
    }

    /** Merge `patch` into the state (RFC 7396); resolves to the whole new state. */
    async setState(patch) {
      if (!isPlainObject(patch)) {
        throw new TypeError("setState(patch) takes a plain object (a JSON merge patch); use replaceState() to set the whole value");
      }
      const prev = await this.getState();
      const next = mergePatch(prev, patch);
      await this.ctx.storage.put(STATE, next); // CodecError: nothing written
      this.__state = next;
      await this.onStateChanged(next, prev);
      return next;
    }

    /** Overwrite the whole state; resolves to `next`. */
    async replaceState(next) {
      if (!isPlainObject(next)) throw new TypeError("replaceState(next) takes a plain object");
      const prev = await this.getState();
      await this.ctx.storage.put(STATE, next);
      this.__state = next;
      await this.onStateChanged(next, prev);
      return next;
    }

    // ---- tasks --------------------------------------------------------------------------

    /** Run `method(payload)` as soon as possible (the next alarm tick). Resolves to the task id. */
    queue(method, payload, opts) {
      return this.#book("queue()", 0, undefined, method, payload, opts);
    }

    /** Run `method(payload)` once, `delaySeconds` from now. Resolves to the task id. */
    schedule(delaySeconds, method, payload, opts) {
      if (typeof delaySeconds !== "number" || Number.isNaN(delaySeconds)) {
        return Promise.reject(new TypeError(`schedule(delaySeconds, ...) takes a number of seconds, got ${typeof delaySeconds}`));
      }
      return this.#book("schedule()", Math.max(0, delaySeconds) * 1000, undefined, method, payload, opts);
    }

    /** Run `method(payload)` every `intervalSeconds`, first one interval from now. Resolves to the task id. */
    every(intervalSeconds, method, payload, opts) {
      if (typeof intervalSeconds !== "number" || !(intervalSeconds > 0) || !Number.isFinite(intervalSeconds)) {
        return Promise.reject(new RangeError(`every(intervalSeconds, ...) needs a positive number of seconds, got ${intervalSeconds}`));
      }
      const ms = Math.max(1, Math.round(intervalSeconds * 1000));
      return this.#book("every()", ms, ms, method, payload, opts);
    }

    /** Remove a pending task. Resolves to true when one was removed. */
    async cancelSchedule(id) {
      if (typeof id !== "string") throw new TypeError("cancelSchedule(id) takes the id a scheduling call returned");
      const storage = this.ctx.storage;
      const rec = await storage.get(TASK + id);
      if (rec === undefined) return false;
      await storage.delete(TASK + id);
      await storage.delete(dueKey(rec.due, rec.order));
      await this.#arm(false);
      return true;
    }

    /** Every pending task, soonest first. */
    async listSchedules() {
      const out = [];
      for await (const [, rec] of scan(this.ctx.storage, { prefix: TASK })) out.push(rec);
      out.sort((a, b) => a.due - b.due || a.order - b.order);
      return out.map(publicRecord);
    }

    async #book(where, delayMs, everyMs, method, payload, opts) {
      if (typeof method !== "string" || method.length === 0) throw new TypeError(`${where} needs the name of a method (a non-empty string)`);
      const { id: given, maxRetries } = checkOptions(opts, where);
      const now = Date.now();
      const due = Math.floor(now + delayMs);
      if (!(due <= MAX_DUE_MS)) throw new RangeError(`${where}: the delay is too far in the future`);
      const storage = this.ctx.storage;
      const id = given ?? crypto.randomUUID();
      const order = ((await storage.get(TASK_ORDER)) ?? 0) + 1;
      const rec = { id, name: method, payload, due, attempts: 0, maxRetries, createdAt: new Date(now), order };
      if (everyMs !== undefined) rec.everyMs = everyMs;
      const old = given === undefined ? undefined : await storage.get(TASK + id);
      await storage.put(TASK + id, rec); // a payload the codec refuses throws here, before any other write
      if (old !== undefined) await storage.delete(dueKey(old.due, old.order)); // upsert: the old booking goes
      await storage.put(dueKey(due, order), id);
      await storage.put(TASK_ORDER, order);
      await this.#arm(false);
      return id;
    }

    /** The earliest pending due time, or undefined. */
    async #earliest() {
      const first = await this.ctx.storage.list({ prefix: DUE, limit: 1 });
      for (const k of first.keys()) return Number(k.slice(DUE.length, DUE.length + 16));
      return undefined;
    }

    /** Point the alarm at the earliest pending task (inAlarm: the firing alarm is consumed anyway). */
    async #arm(inAlarm) {
      const next = await this.#earliest();
      if (next !== undefined) await this.ctx.storage.setAlarm(next);
      else if (!inAlarm) await this.ctx.storage.deleteAlarm();
    }

    async #save(rec, changes) {
      const storage = this.ctx.storage;
      const next = { ...rec, ...changes };
      if (next.due !== rec.due || next.order !== rec.order) await storage.delete(dueKey(rec.due, rec.order));
      await storage.put(TASK + rec.id, next);
      await storage.put(dueKey(next.due, next.order), rec.id);
    }

    async #drop(rec) {
      await this.ctx.storage.delete(TASK + rec.id);
      await this.ctx.storage.delete(dueKey(rec.due, rec.order));
    }

    #label() {
      return `${clean(this.constructor.name)}(${clean(JSON.stringify(String(this.ctx.id)))})`;
    }

    /**
     * Reserved: runs every task due when the alarm fired, then re-arms the alarm for the next
     * one. Task errors are caught and recorded (retry with backoff, or parked), so the alarm
     * turn itself succeeds and commits them (spec §1.5, §4.3, §4.4).
     */
    async alarm(_info) {
      const storage = this.ctx.storage;
      const start = Date.now();
      // Stop before the runtime's alarm budget so the bookkeeping still commits.
      const deadline = start + limits.alarmTimeoutMs - Math.min(2000, limits.alarmTimeoutMs / 10);
      const due = [];
      for await (const [k, id] of scan(storage, { prefix: DUE, end: DUE + pad(start + 1, 16) })) {
        due.push({ id, order: Number(k.slice(DUE.length + 17)) });
      }
      for (const entry of due) {
        const rec = await storage.get(TASK + entry.id);
        if (rec === undefined || rec.order !== entry.order) continue; // cancelled or re-booked by an earlier task
        const remaining = deadline - Date.now();
        if (remaining <= 0) break; // out of budget: the rest stay due and the alarm fires again at once
        const error = await this.#run(rec, remaining);
        await this.#settle(rec, error, start);
        if (error?.overran) break; // the task may still be running: start nothing else in this turn
      }
      await this.#arm(true);
    }

    /** Call the task; resolves to null on success or to its error (never rejects). */
    async #run(rec, budgetMs) {
      let timer;
      try {
        const fn = NOT_TASKS.has(rec.name) ? undefined : this.#taskMethod(rec.name);
        const call = fn
          ? Promise.resolve().then(() => fn.call(this, rec.payload))
          : Promise.resolve().then(() => this.onTask(rec.name, rec.payload, { attempt: rec.attempts }));
        await Promise.race([call, new Promise((_, reject) => {
          timer = setTimeout(() => {
            const err = new Error(`did not finish within ${budgetMs} ms (the alarm turn's budget)`);
            err.overran = true;
            reject(err);
          }, budgetMs);
        })]);
        return null;
      } catch (err) {
        return err ?? new Error(String(err));
      } finally {
        clearTimeout(timer);
      }
    }

    #taskMethod(name) {
      // A method of the subclass (as for RPC: found on its prototypes below Agent's).
      for (let p = Object.getPrototypeOf(this); p && p !== Agent.prototype; p = Object.getPrototypeOf(p)) {
        const desc = Object.getOwnPropertyDescriptor(p, name);
        if (desc) return typeof desc.value === "function" ? desc.value : undefined;
      }
      return undefined;
    }

    /** Record a run: done, next interval, retry with backoff, or parked. */
    async #settle(rec, error, start) {
      const current = await this.ctx.storage.get(TASK + rec.id);
      const untouched = current !== undefined && current.order === rec.order;
      if (!error) {
        if (!untouched) return; // the handler re-booked or cancelled its own id: that stands
        if (rec.everyMs !== undefined) await this.#save(rec, { attempts: 0, due: start + rec.everyMs });
        else await this.#drop(rec);
        return;
      }
      const what = `[agent] ${this.#label()}: task ${clean(JSON.stringify(rec.name))} (id ${clean(rec.id)})`;
      if (current === undefined) {
        console.error(`${what} failed and was cancelled by its handler: ${describeError(error)}`);
        return;
      }
      const attempts = rec.attempts + 1;
      const base = untouched ? rec : current; // a re-booking survives but still counts the failure
      if (attempts > base.maxRetries) {
        await this.#drop(base);
        console.error(`${what} parked after ${attempts} failed ${attempts === 1 ? "attempt" : "attempts"}: ${describeError(error)}`);
        return;
      }
      const delay = backoffMs(attempts);
      const dueAt = Math.max(untouched ? 0 : base.due, Date.now() + delay);
      await this.#save(base, { attempts, due: dueAt });
      console.error(`${what} failed (attempt ${attempts} of ${base.maxRetries + 1}), retrying in ${delay} ms: ${describeError(error)}`);
    }
  }
  return Agent;
}
