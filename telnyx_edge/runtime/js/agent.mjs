// The Agent SDK: `Agent<Env, State>` on top of StatefulActor (agent-sdk-spec.md §1-§6; docs/agents.md).
//
// Built only on the public actor API (ctx.storage get/put/delete/list, setAlarm/getAlarm/
// deleteAlarm, blockConcurrencyWhile), so it runs unchanged on any storage engine underneath.
// State, the message log (agent-messages.mjs) and tasks (agent-tasks.mjs) live in the actor's
// own storage under `agent:` keys (agent-storage.mjs). Turn rules are the actor's: everything a
// method writes commits when it returns, or not at all when it throws.

import { STATE, isPlainObject, clean } from "./agent-storage.mjs";
import { MessageLog } from "./agent-messages.mjs";
import { Scheduler } from "./agent-tasks.mjs";

export { configureAgents } from "./agent-tasks.mjs";

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
    #tasks;

    constructor(ctx, env) {
      super(ctx, env);
      checkSubclass(this, Agent);
      // Non-writable and non-configurable: a subclass field named `messages` fails loudly.
      Object.defineProperty(this, "messages", { value: new MessageLog(ctx.storage), enumerable: false });
      // The last state read or written (one Telnyx example reads it as `__state`); a cache only.
      Object.defineProperty(this, "__state", { value: undefined, writable: true, enumerable: false });
      const label = () => `${clean(this.constructor.name)}(${clean(JSON.stringify(String(ctx.id)))})`;
      this.#tasks = new Scheduler(ctx.storage, label, (rec) => this.#dispatch(rec));
      // Before the first call: re-arm the alarm for the earliest pending task (spec §1.3), so a
      // lost alarm never strands a task.
      ctx.blockConcurrencyWhile(async () => {
        const stored = await ctx.storage.get(STATE);
        if (stored !== undefined) this.__state = stored;
        await this.#tasks.activate();
      });
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
      return this.#tasks.book("queue()", 0, undefined, method, payload, opts);
    }

    /** Run `method(payload)` once, `delaySeconds` from now (negative counts as 0). Resolves to the task id. */
    schedule(delaySeconds, method, payload, opts) {
      if (typeof delaySeconds !== "number" || Number.isNaN(delaySeconds)) {
        return Promise.reject(new TypeError(`schedule(delaySeconds, ...) takes a number of seconds, got ${typeof delaySeconds}`));
      }
      return this.#tasks.book("schedule()", Math.max(0, delaySeconds) * 1000, undefined, method, payload, opts);
    }

    /** Run `method(payload)` every `intervalSeconds`, first one interval from now. Resolves to the task id. */
    every(intervalSeconds, method, payload, opts) {
      if (typeof intervalSeconds !== "number" || !(intervalSeconds > 0) || !Number.isFinite(intervalSeconds)) {
        return Promise.reject(new RangeError(`every(intervalSeconds, ...) needs a positive number of seconds, got ${intervalSeconds}`));
      }
      const ms = Math.max(1, Math.round(intervalSeconds * 1000));
      return this.#tasks.book("every()", ms, ms, method, payload, opts);
    }

    /** Remove a pending task. Resolves to true when one was removed. */
    cancelSchedule(id) {
      return this.#tasks.cancel(id);
    }

    /** Every pending task, soonest first. */
    listSchedules() {
      return this.#tasks.list();
    }

    /**
     * Reserved: runs every task due when the alarm fired, then re-arms the alarm for the next
     * one. Task errors are caught and recorded (retry with backoff, or parked), so the alarm
     * turn itself succeeds and commits them (spec §1.5, §4.3, §4.4).
     */
    async alarm(_info) {
      await this.#tasks.drain();
    }

    /** Call a task's method with exactly its payload, or onTask when the class has no such method. */
    #dispatch(rec) {
      const fn = NOT_TASKS.has(rec.name) ? undefined : this.#taskMethod(rec.name);
      if (fn) return fn.call(this, rec.payload);
      return this.onTask(rec.name, rec.payload, { attempt: rec.attempts });
    }

    #taskMethod(name) {
      // A method of the subclass (as for RPC: found on its prototypes below Agent's).
      for (let p = Object.getPrototypeOf(this); p && p !== Agent.prototype; p = Object.getPrototypeOf(p)) {
        const desc = Object.getOwnPropertyDescriptor(p, name);
        if (desc) return typeof desc.value === "function" ? desc.value : undefined;
      }
      return undefined;
    }
  }
  return Agent;
}
