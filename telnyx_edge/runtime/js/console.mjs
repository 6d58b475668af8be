// User output inside a Worker: console.log/info/warn/error/debug (and trace, dir) become records
// (logrecords.mjs) attributed to the function and, inside an actor turn, to the actor (Type and
// name), with their level; Python prints each as one whole line (errors and warnings on stderr),
// so output is never interleaved mid-line, however many Workers write at once.
//
// Which actor printed: Activation.run calls the user's method through `inActor`. Output during
// the method's synchronous part is the actor's for certain; output after an `await` is attributed
// to the one actor of this Worker with a turn in progress, and to the function alone when several
// are. Not an AsyncLocalStorage: on Node 20 it turns on promise hooks for the whole thread, and
// measured here it halved the hot debit's throughput (2,100 -> 1,080 debits/s at 64 connections).

import { formatWithOptions } from "node:util";
import { LogBatch, clip } from "./logrecords.mjs";
import { dropRuntimeFrames, userStack } from "./stacks.mjs";

const running = new Map(); // activation -> turns of it in progress (started by inActor, not settled)
let current = null; // the activation whose method is running synchronously right now
let batch = null; // set by install(); null in the main thread and in unit tests (stderr then)
let postNow = null; // sends output records at once (see install)
let functionName = "";

/** Run `fn` as part of a turn of `act` ({type, name}): console output inside is attributed to it
 * (see the top of this file for output after an `await`). Returns what `fn` returns. */
export function inActor(act, fn) {
  if (batch === null) return fn();
  const previous = current;
  current = act;
  running.set(act, (running.get(act) ?? 0) + 1);
  let out;
  try {
    out = fn();
  } catch (err) {
    settled(act);
    throw err;
  } finally {
    current = previous;
  }
  if (out !== null && typeof out?.then === "function") out.then(() => settled(act), () => settled(act));
  else settled(act);
  return out;
}

function settled(act) {
  const left = running.get(act) - 1;
  if (left > 0) running.set(act, left);
  else running.delete(act);
}

/** The actor output now belongs to, or null (the function's own code, or several actors busy). */
function actorNow() {
  if (current !== null) return current;
  return running.size === 1 ? running.keys().next().value : null;
}

/** Record an actor invocation (kind call, fetch or alarm) begun at `started` (performance.now());
 * outcome "ok" or an error name. */
function recordCall(type, name, method, outcome, started) {
  const ms = performance.now() - started;
  batch?.push(["call", Math.round(performance.timeOrigin + started), functionName, type, name, method, outcome, Math.round(ms * 10) / 10]);
}

/** A line of output from the runtime about user code (a method that threw), attributed like console output. */
export function report(level, text, actor = actorNow()) {
  if (batch === null) return void process.stderr.write(`[isolate] ${text}\n`);
  postNow([["console", Date.now(), functionName, actor?.type ?? "", actor?.name ?? "", level, clip(text)]]);
}

/** An error of user code as one report: what threw, then its stack mapped to the .ts sources. */
export function reportError(what, err, actor) {
  report("error", `${what}: ${userStack(err)}`, actor);
}

/** Replace the Worker's console methods. `post(records)` sends a batch of invocation records to
 * the main thread (once per event-loop turn); `now(records)` sends output at once, so a line
 * printed before a long synchronous stretch (or a loop that gets the Worker replaced) is seen. */
export function install(fn, post, now) {
  functionName = fn;
  batch = new LogBatch(post, true);
  postNow = now;
  dropRuntimeFrames();
  const emit = (level) => (...args) => report(level, formatWithOptions({ colors: false }, ...args));
  console.log = emit("log");
  console.info = emit("info");
  console.debug = emit("debug");
  console.warn = emit("warn");
  console.error = emit("error");
  console.trace = (...args) => {
    const err = new Error(formatWithOptions({ colors: false }, ...args));
    err.name = "Trace";
    report("log", userStack(err));
  };
  console.dir = (obj, options) => report("log", formatWithOptions({ colors: false, ...options }, "%O", obj));
  return batch;
}

/** Send what is batched now (a Worker stopping). */
export function flush() { batch?.flush(); }

/** Time `turn` from now until it settles and record the invocation (kind call, fetch or alarm). */
export function observeTurn(act, turn) {
  if (batch === null || turn.observed) return;
  turn.observed = true;
  const started = performance.now();
  const { resolve, reject } = turn;
  const method = turn.method ?? turn.kind;
  // turn.outcome: set by the turn when it settles as delivered but not "ok" (an alarm() that threw,
  // whose retry is booked), or null when nothing ran (no alarm was due).
  turn.resolve = (value) => {
    if (turn.outcome !== null) recordCall(act.type, act.name, method, turn.outcome ?? "ok", started);
    resolve(value);
  };
  turn.reject = (err) => { recordCall(act.type, act.name, method, err?.name ?? "Error", started); reject(err); };
}
