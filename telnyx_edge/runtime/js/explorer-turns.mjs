// The explorer's actions, in the Worker hosting the actor (docs/explorer.md, "Actions").
//
// Every action that changes state is a TURN of that actor: it waits in the activation's mailbox
// behind the calls already queued, runs alone (promise 2 of DESIGN.md), writes through
// ctx.storage inside the turn's savepoint, and is answered only once its commit is durable
// (the output gate, promise 3). It activates the actor if it is not in memory, as a call would.
// It reuses the mailbox's generic "handler" turn (kind "ws", as WebSocket events do): the
// turn runs `handler(instance)` with `args`; its invocation record names it `explorer.ACTION`.
//
// A typed value the user sent is decoded and checked by the codec BEFORE the turn is queued, so
// a bad edit is refused with the codec's error and never reaches the mailbox. `expect`
// (compare-and-set): the edit applies only if the key's current value has that typed JSON
// (`expect_absent`: only if the key is absent); else the turn writes nothing and answers
// {ok: false, conflict: true, current}, so a page edit made on a stale view cannot overwrite a
// concurrent write.

import fs from "node:fs";
import { encodeValue } from "./codec.mjs";
import { actorFile } from "./actordb.mjs";
import { fromTyped, sameValue, toTyped, typeName } from "./explorer-values.mjs";
import * as E from "./errors.mjs";

class ExplorerInputError extends Error {
  constructor(message) { super(message); this.name = "BadRequest"; }
}

function checkKey(key) {
  if (typeof key !== "string") throw new ExplorerInputError("\"key\" must be a string");
  if (key.startsWith("__telnyx_")) throw new ExplorerInputError(`key ${JSON.stringify(key)} is reserved: keys starting with "__telnyx_" belong to the runtime`);
}

function parseTime(t) {
  const ms = typeof t === "number" ? t : typeof t === "string" ? Date.parse(t) : NaN;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    throw new ExplorerInputError(`"time" must be milliseconds since the epoch or an ISO 8601 time, got ${JSON.stringify(t)}`);
  }
  return Math.floor(ms);
}

/** Decode what the user typed; a CodecError / TypeError here is the answer (nothing is queued). */
function decodeInput(json, what) {
  let value;
  try {
    value = fromTyped(json, what);
  } catch (err) {
    throw new E.CodecError(err.message);
  }
  encodeValue(value, what); // the codec's own checks and its 2 MiB limit
  return value;
}

/** The compare-and-set condition of `args`, decoded before the turn: null (none), or
 * { absent: true }, or { value }. */
function expectation(args) {
  if (args.expect_absent) return { absent: true };
  if (args.expect === undefined) return null;
  return { value: decodeInput(args.expect, "expect") };
}

const MATCHES = Symbol("matches");
const ABSENT = Symbol("absent");

/** Inside the turn: MATCHES when the key holds what is expected, else its current value (ABSENT). */
async function conflict(storage, key, expected) {
  if (expected === null) return MATCHES;
  const current = await storage.get(key);
  if (expected.absent) return current === undefined ? MATCHES : current;
  if (current === undefined) return ABSENT;
  return sameValue(current, expected.value) ? MATCHES : current;
}

function conflictAnswer(current) {
  const absent = current === ABSENT;
  return { ok: false, conflict: true, current: absent ? null : { type: typeName(current), value: toTyped(current) }, absent };
}

/** Build the turn body for `action`: checks and decodes first (throws on bad input). */
function prepare(action, args) {
  switch (action) {
    case "put": {
      checkKey(args.key);
      const value = decodeInput(args.value, `the value for key "${args.key}"`);
      const expected = expectation(args);
      return async (storage) => {
        const current = await conflict(storage, args.key, expected);
        if (current !== MATCHES) return conflictAnswer(current);
        await storage.put(args.key, value);
        return { ok: true };
      };
    }
    case "delete": {
      checkKey(args.key);
      const expected = expectation(args);
      return async (storage) => {
        const current = await conflict(storage, args.key, expected);
        if (current !== MATCHES) return conflictAnswer(current);
        return { ok: true, existed: await storage.delete(args.key) };
      };
    }
    case "sql": {
      if (typeof args.sql !== "string" || !args.sql.trim()) throw new ExplorerInputError("\"sql\" must be a non-empty string");
      const params = Array.isArray(args.params) ? args.params : [];
      return (storage) => {
        // transactionSync: a failing statement undoes only what this action ran.
        try {
          const cursor = storage.transactionSync(() => storage.sql.exec(args.sql, ...params));
          const rows = cursor.toArray().slice(0, 100);
          return { ok: true, rows_written: cursor.rowsWritten, columns: cursor.columnNames, rows: rows.map((r) => Object.values(r).map((v) => (v instanceof ArrayBuffer ? toTyped(v) : v))) };
        } catch (err) {
          return { ok: false, error: `${err?.name ?? "Error"}: ${err?.message ?? err}` };
        }
      };
    }
    case "alarm_set": {
      const ms = parseTime(args.time);
      return async (storage) => { await storage.setAlarm(ms); return { ok: true, alarm_ms: ms }; };
    }
    case "alarm_delete":
      return async (storage) => { await storage.deleteAlarm(); return { ok: true }; };
    default:
      throw new ExplorerInputError(`unknown action ${JSON.stringify(action)}; one of put, delete, sql, alarm_set, alarm_delete, evict`);
  }
}

// Actions that may bring an instance into being (as a first call would); the others need one.
const CREATES = new Set(["put", "sql", "alarm_set"]);

function errorWire(err) {
  return [err?.name ?? "Error", err?.message ?? String(err)];
}

/** An `explore` request from the main thread: run `action` as a turn of (type, name). */
export function onExplore(host, id, type, name, action, args) {
  const answer = (ok, payload) => host.chan.send(["result", id, ok, payload]);
  if (!host.classes.has(type)) return answer(false, [E.NAMES.ActorTypeNotFoundError, `this isolate does not host ${type}`]);
  if (!CREATES.has(action) || args?.must_exist) {
    // Deleting, evicting or firing on a name that was never used would create an empty
    // instance as a side effect (a typo in a name leaves junk behind): refuse instead.
    if (!host.activations.has(type + "\u0000" + name) && !fs.existsSync(actorFile(host.stateDir, type, name))) {
      return answer(false, ["NotFound", `${type}(${JSON.stringify(name)}) has no stored state (no instance of that name); check the name, or write a value first`]);
    }
  }
  if (action === "evict") return evict(host, type, name, answer);
  let body;
  try {
    body = prepare(action, args ?? {});
  } catch (err) {
    return answer(false, errorWire(err));
  }
  const act = host.activation(type, name);
  act.enqueue({
    kind: "ws", method: `explorer.${action}`, chain: [], args: [],
    handler: () => function explorerTurn() { return body(act.storage); },
    resolve: (value) => answer(true, value ?? null),
    reject: (err) => answer(false, errorWire(err)),
  });
}

/** Evict the activation: after the turns queued before it, its instance is dropped and its
 * database closed (as the idle sweep does); the next call constructs a fresh one. */
function evict(host, type, name, answer) {
  const key = type + "\u0000" + name;
  const act = host.activations.get(key);
  if (!act) return answer(true, { ok: true, evicted: false });
  act.enqueue({
    kind: "ws", method: "explorer.evict", chain: [], args: [],
    handler: () => function explorerEvict() { return null; },
    resolve: () => {
      const deadline = Date.now() + 2000;
      const wait = () => {
        if (host.activations.get(key) !== act) return answer(true, { ok: true, evicted: false });
        if (!act.idle) {
          // Busy (more turns queued, or an open WebSocket keeps it): not evicted, said so.
          if (Date.now() > deadline) return answer(true, { ok: true, evicted: false, busy: true });
          return void setTimeout(wait, 5);
        }
        host.activations.delete(key);
        host.reportStats([act]); // the instance index sees its last figures
        try { act.db?.close(); } catch (err) { return answer(false, errorWire(err)); }
        answer(true, { ok: true, evicted: true });
      };
      wait();
    },
    reject: (err) => answer(false, errorWire(err)),
  });
}
