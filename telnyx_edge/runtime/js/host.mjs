// The isolate: one Worker thread of the data plane, running one function revision's bundle.
// A revision runs in a pool of such Workers ("slots"); each hosts the fetch handler and the
// activations whose name hashes to its slot (placement.mjs), so a CPU-bound actor stalls only
// its slot. It talks to the data plane's main thread over its parent port in the messages of
// wire.mjs (TO_WORKER / FROM_WORKER); calls to actors on other slots or other functions go
// through the main thread, which routes them.

import { pathToFileURL } from "node:url";
import { encodeValue, decodeValue, quickCopy } from "./codec.mjs";
import * as E from "./errors.mjs";
import { StatefulActor, env as globalEnv } from "./edge-runtime.mjs";
import { Activation, findMethod, fmtKey, logError } from "./actors.mjs";
import { TO_WORKER, WORKER_REQUESTS } from "./wire.mjs";
import { began, newMarks, took } from "./delivery.mjs";
import { slotOf } from "./placement.mjs";
import { IncomingBodies, ResponseStreams } from "./streams.mjs";
import { WS_TO_WORKER, forwardUpgrade, isUpgrade, onForwardedUpgrade, stopSockets } from "./actor-sockets.mjs";
import { flush as flushLog, install as installConsole } from "./console.mjs";
import { onExplore } from "./explorer-turns.mjs";
import { thrownMessage } from "./stacks.mjs";

const STATS_INTERVAL_MS = 2000;
const MAX_OPEN_ACTIVATIONS = 4096; // open databases per isolate; idle ones beyond this are closed
import { configureAgents } from "./agent.mjs";
import { platformBindings } from "./bindings/index.mjs";
import { telnyxBinding } from "./bindings/telnyx.mjs";

class Host {
  constructor(chan, config) {
    this.chan = chan;
    this.config = config;
    this.mod = null;
    this.methodTimeoutMs = config.method_timeout_ms;
    this.alarmTimeoutMs = config.alarm_timeout_ms;
    configureAgents({ alarmTimeoutMs: this.alarmTimeoutMs });
    this.requestTimeoutMs = config.request_timeout_ms;
    this.stateDir = config.state_dir;
    this.alarmRetryDelayMs = config.alarm_retry_delay_ms;
    this.alarmMaxRetries = config.alarm_max_retries;
    this.classes = new Map();
    this.slot = config.slot ?? 0;
    this.marks = config.marks ?? newMarks(); // which requests this Worker took and began (delivery.mjs)
    this.slots = config.slots ?? 1;
    this.problems = [];
    this.activations = new Map();
    // A swap moves actors between revisions (group.mjs handOver): this Worker's turns wait for
    // `open_actors` while the old revision still holds them (`actorGate`), and it hosts none
    // once it has handed them over (`handedOver`).
    this.actorGate = null;
    if (config.actors_held) {
      let open;
      this.actorGate = new Promise((resolve) => { open = resolve; });
      this.actorGate.open = open;
    }
    this.handedOver = !!config.actors_closed;
    this.methodCache = new Map();
    this.streams = new ResponseStreams(chan, logError);
    this.bodies = new IncomingBodies(chan);
    this.platform = platformBindings(config.platform);
    // Before the bundle loads, so `import { env }` is usable at module top level too.
    // Descriptors, not values: reading a platform-only binding throws (bindings/index.mjs).
    Object.defineProperties(globalEnv, Object.getOwnPropertyDescriptors(this.envFor(null)));
  }

  attach(mod) {
    this.mod = mod;
    for (const type of this.config.owned_types) {
      const cls = mod[type];
      if (typeof cls === "function" && cls.prototype instanceof StatefulActor) this.classes.set(type, cls);
      else this.problems.push(`export ${type} is not a class extending StatefulActor`);
    }
  }

  envFor(caller) {
    const out = { ...this.config.env_vars };
    for (const [binding, type] of Object.entries(this.config.bindings)) out[binding] = new Namespace(this, type, caller);
    Object.defineProperties(out, this.platform);
    if (this.config.telnyx_binding) out[this.config.telnyx_binding] = telnyxBinding(this.config.telnyx_binding);
    return out;
  }

  /** Whether this Worker hosts the activation (type, name): its type is owned here, its name
   * hashes to this slot, and it has not handed its actors over. */
  hosts(type, name) {
    return !this.handedOver && this.classes.has(type) && (this.slots === 1 || slotOf(name, this.slots) === this.slot);
  }

  openActors() {
    const gate = this.actorGate;
    this.actorGate = null;
    gate?.open();
  }

  /** Hand this revision's actors over to the new one (a swap): from now on this Worker's code
   * reaches actors through the main thread, which routes to the new owner; its WebSockets close
   * with 1001; each activation runs the turns it has, reports its last figures and closes its
   * database. What else runs here (open response streams) goes on. */
  async closeActors() {
    this.handedOver = true;
    await stopSockets(this);
    while (this.activations.size) {
      await Promise.all([...this.activations].map(([key, act]) => this.closeActivation(key, act)));
    }
  }

  async closeActivation(key, act) {
    while (!act.retired && (act.running || act.queue.length)) await new Promise((resolve) => setTimeout(resolve, 10));
    // Retired (a turn timed out): it closes itself; its successor, in the map, goes next round.
    if (act.retired) return act.closed;
    if (act.predecessor) await act.predecessor.closed; // a successor that never ran
    if (this.activations.get(key) === act) this.activations.delete(key);
    this.reportStats([act]);
    await act.close();
  }

  method(instance, type, name) {
    return findMethod(this.methodCache, instance, type, name);
  }

  activation(type, name) {
    const key = type + "\u0000" + name;
    let act = this.activations.get(key);
    if (!act) { act = new Activation(this, type, name); this.activations.set(key, act); }
    return act;
  }

  /** The work of request `id` (a turn's, see WORKER_REQUESTS) begins now: it may have effects. */
  began(id) { began(this.marks, id); }

  /** A retired activation (timeout, failed commit) hands its queue to a fresh one. */
  retired(act) {
    const key = act.type + "\u0000" + act.name;
    if (this.activations.get(key) !== act) return;
    const next = new Activation(this, act.type, act.name, act);
    next.queue = act.queue;
    act.queue = [];
    this.activations.set(key, next);
    if (next.queue.length) next.pump();
  }

  alarmChanged(type, name, fireMs) {
    this.chan.send(["alarm_changed", type, name, fireMs]);
  }

  /** Report what `actors instances` shows for activations used since the last report. */
  reportStats(acts) {
    const rows = [];
    for (const act of acts) {
      if (!act.db?.db || act.db.inTurn) continue;
      act.touched = false;
      try {
        const st = act.db.stats();
        rows.push([act.type, act.name, act.lastUsed, st.keys, st.bytes, st.tables, st.dbBytes, st.fire]);
      } catch (err) {
        logError(`reading the stats of ${act.key} failed`, err);
      }
    }
    if (rows.length) this.chan.send(["actor_stats", rows]);
  }

  /** Close idle activations' databases: memory is a cache, storage is the truth. */
  sweep(idleMs, force = false) {
    const now = Date.now();
    const touched = [];
    for (const act of this.activations.values()) if (act.touched) touched.push(act);
    this.reportStats(touched);
    const over = this.activations.size - MAX_OPEN_ACTIVATIONS;
    let evicted = 0;
    const idle = [...this.activations.entries()].filter(([, a]) => a.idle).sort((x, y) => x[1].lastUsed - y[1].lastUsed);
    for (const [key, act] of idle) {
      if (force || now - act.lastUsed > idleMs || evicted < over) {
        this.activations.delete(key);
        evicted++;
        try { act.db?.close(); } catch (err) { logError(`closing the storage of ${act.key} failed`, err); }
      }
    }
  }

  /** A stub call from user code in this isolate. */
  async invoke(type, name, method, args, caller) {
    checkLive(caller);
    const chain = caller ? [...caller.chain, caller.key] : [];
    const target = fmtKey(type, name);
    if (chain.includes(target)) {
      throw new E.ActorReentrancyError(`${[...chain, target].join(" -> ")}: an actor cannot call itself, directly or through other actors, while one of its calls is running (it would wait for itself)`);
    }
    if (this.hosts(type, name)) {
      // In-isolate call: values are copied, not shared, but skip serialization when a
      // shallow copy of primitives does (see quickCopy).
      const quick = quickCopy(args);
      const turn = quick
        ? { kind: "call", method, argsValue: quick.value, local: true, chain: [...chain] }
        : { kind: "call", method, args: encodeValue(args, `the arguments of ${type}.${method}()`), local: true, chain: [...chain] };
      const result = await new Promise((resolve, reject) => {
        turn.resolve = resolve;
        turn.reject = reject;
        this.activation(type, name).enqueue(turn);
      });
      return result instanceof Uint8Array ? decodeValue(result) : result.value;
    }
    const bytes = encodeValue(args, `the arguments of ${type}.${method}()`);
    return decodeValue(await this.chan.request("call", type, name, method, bytes, chain));
  }

  async fetchActor(type, name, req, caller) {
    checkLive(caller);
    const chain = caller ? [...caller.chain, caller.key] : [];
    const target = fmtKey(type, name);
    if (chain.includes(target)) throw new E.ActorReentrancyError(`${[...chain, target].join(" -> ")}: an actor cannot fetch itself while one of its calls is running`);
    if (isUpgrade(req)) return forwardUpgrade(this, type, name, req, chain);
    const wire = await encodeRequest(req);
    if (this.hosts(type, name)) {
      // In-isolate: the actor's Response itself, so a streamed body reaches the caller as produced.
      return new Promise((resolve, reject) => {
        this.activation(type, name).enqueue(fetchTurn(wire, chain, resolve, reject));
      });
    }
    // Another isolate's actor: the request's id is known before it is sent, because a streamed
    // body (a null body in the reply) may arrive right after the reply.
    const id = this.chan.nextId;
    const body = this.bodies.expect(id);
    let out;
    try {
      out = await this.chan.request("fetchactor", type, name, wire, chain);
    } finally {
      if (out?.[2] !== null) this.bodies.drop(id);
    }
    if (out[2] === null) return new Response(body, { status: out[0], headers: pairs(out[1]) });
    return new Response(out[2].length ? out[2] : null, { status: out[0], headers: pairs(out[1]) });
  }

  /** A routed call from Python (another isolate's stub, or an alarm). */
  onCall(id, type, name, method, args, chain) {
    if (!this.classes.has(type)) return this.chan.send(["result", id, false, [E.NAMES.ActorTypeNotFoundError, `this isolate does not host ${type}`]]);
    const target = fmtKey(type, name);
    if (chain.includes(target)) {
      return this.chan.send(["result", id, false, [E.NAMES.ActorReentrancyError, `${[...chain, target].join(" -> ")}: an actor cannot call itself, directly or through other actors`]]);
    }
    this.activation(type, name).enqueue({
      kind: "call", method, args, chain, id,
      resolve: (bytes) => this.chan.send(["result", id, true, bytes]),
      reject: (err) => this.chan.send(["result", id, false, errorWire(err)]),
    });
  }

  onAlarm(id, type, name, failures) {
    if (!this.classes.has(type)) return this.chan.send(["result", id, false, [E.NAMES.ActorTypeNotFoundError, `this isolate does not host ${type}`]]);
    this.activation(type, name).enqueue({
      kind: "alarm", failures, chain: [], id,
      resolve: (fireMs) => this.chan.send(["result", id, true, fireMs]),
      reject: (err) => this.chan.send(["result", id, false, errorWire(err)]),
    });
  }

  onFetchActor(id, type, name, wire, chain) {
    if (!this.classes.has(type)) return this.chan.send(["result", id, false, [E.NAMES.ActorTypeNotFoundError, `this isolate does not host ${type}`]]);
    if (wire[4]) {
      this.began(id); // the socket is taken at once, not in a turn
      return onForwardedUpgrade(this, id, type, name, wire);
    }
    const failed = (err) => this.chan.send(["result", id, false, errorWire(err)]);
    // The actor's Response itself: a whole body answers in the result, a stream follows it.
    const turn = fetchTurn(wire, chain, (res) => {
      const h = [];
      for (const [k, v] of res.headers) h.push(k, v);
      this.streams.send(id, res.status, h, res, (body) => this.chan.send(["result", id, true, [res.status, h, body]])).catch(failed);
    }, failed, id);
    this.activation(type, name).enqueue(turn);
  }

  async onFetch(id, method, url, headers, body) {
    let status = 500;
    let outHeaders = [];
    let outBody = Buffer.alloc(0);
    let res;
    try {
      const init = { method, headers: pairs(headers) };
      if (body.length && method !== "GET" && method !== "HEAD") init.body = body;
      let timer;
      res = await Promise.race([
        this.mod.default.fetch(new Request(url, init), globalEnv),
        new Promise((_, rej) => { timer = setTimeout(() => rej(new RequestTimeout(`the fetch handler did not respond within ${this.requestTimeoutMs} ms`)), this.requestTimeoutMs); }),
      ]).finally(() => clearTimeout(timer));
      if (!(res instanceof Response)) throw new TypeError(`fetch() must return a Response, got ${res === undefined ? "undefined" : typeof res}`);
      status = res.status;
      for (const [k, v] of res.headers) outHeaders.push(k, v);
    } catch (err) {
      logError(`fetch ${method} ${pathOf(url)} threw`, err);
      status = err instanceof RequestTimeout ? 504 : 500;
      outHeaders = ["content-type", "text/plain; charset=utf-8"];
      outBody = Buffer.from(`${errorHead(err)}\n`);
      return this.chan.send(["fetch_done", id, status, outHeaders, outBody]);
    }
    this.streams.send(id, status, outHeaders, res).catch((err) => {
      logError(`fetch ${method} ${pathOf(url)}: reading the response body failed`, err);
      this.chan.send(["fetch_done", id, 500, ["content-type", "text/plain; charset=utf-8"], Buffer.from(`${errorHead(err)}\n`)]);
    });
  }

}

class RequestTimeout extends Error {
  constructor(message) { super(message); this.name = "RequestTimeoutError"; }
}

class Namespace {
  constructor(host, type, caller) { this.host = host; this.type = type; this.caller = caller; }

  idFromName(name) {
    if (typeof name !== "string" || name.length === 0) throw new TypeError("idFromName(name) takes a non-empty string");
    return makeStub(this.host, this.type, name, this.caller);
  }

  newUniqueId() {
    return makeStub(this.host, this.type, crypto.randomUUID(), this.caller);
  }
}

function makeStub(host, type, name, caller) {
  return new Proxy({}, {
    get(_t, prop) {
      if (typeof prop === "symbol") return undefined;
      if (prop === "then" || prop === "toJSON" || prop === "valueOf" || prop === "toString") return undefined;
      if (prop === "id") return name;
      // The same arguments as `new Request(input, init)`; it throws the TypeError for bad ones.
      if (prop === "fetch") return async (input, init) => host.fetchActor(type, name, new Request(input, init), caller);
      return (...args) => host.invoke(type, name, prop, args, caller);
    },
  });
}

/** An actor fetch() turn; it resolves with the actor's Response (its body is read by whoever sends it on).
 * `id`: the main thread's request id, when it sent the turn. */
function fetchTurn(wire, chain, resolve, reject, id = undefined) {
  return {
    kind: "fetch", method: "fetch", chain, resolve, reject, id,
    request: () => {
      const init = { method: wire[0], headers: pairs(wire[2]) };
      if (wire[3].length && wire[0] !== "GET" && wire[0] !== "HEAD") init.body = wire[3];
      return new Request(wire[1], init);
    },
    encodeResponse: async (res) => {
      if (!(res instanceof Response)) throw new TypeError("an actor's fetch() must return a Response");
      return res;
    },
  };
}

/** A torn-down activation's instance may still be running (a timed-out turn cannot be
 * stopped), but it has no outputs left: no storage, and no calls to other actors. */
function checkLive(caller) {
  if (caller?.retired) {
    throw new E.ActorTornDownError(`${caller.key} was torn down (a turn ran past its budget or its commit failed): its instance can no longer call other actors`);
  }
}

async function encodeRequest(req) {
  const h = [];
  for (const [k, v] of req.headers) h.push(k, v);
  return [req.method, req.url, h, Buffer.from(await req.arrayBuffer())];
}

function pairs(flat) {
  const out = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

/** The path of a request URL, without the query string (it may carry tokens; as the request log). */
function pathOf(url) {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?");
  return start < 0 ? "/" : url.slice(start, q < 0 ? undefined : q);
}

/** An error's message; a thrown non-Error (`throw "boom"`) says what it was (stacks.mjs). */
function errorMessage(err) {
  return typeof err?.message === "string" ? err.message : thrownMessage(err);
}

/** `Name: message` of anything thrown. */
function errorHead(err) {
  return `${err?.name ?? "Error"}: ${errorMessage(err)}`;
}

function errorWire(err) {
  const wire = [err?.name ?? "Error", errorMessage(err)];
  if (typeof err?.userStack === "string") wire.push(err.userStack); // the thrower's frames, for the caller's err.stack
  return wire;
}

/** One line: the error and where user code threw it (first stack frame outside node:). */
function describeLoadError(err) {
  const head = errorHead(err);
  const frame = String(err?.stack ?? "").split("\n").slice(1).find((l) => !l.includes("node:internal"));
  const where = frame?.match(/\(?([^()\s]+:\d+:\d+)\)?\s*$/)?.[1];
  return where ? `${head} (at ${where})` : head;
}

/** Run a Worker: load the bundle named in `config`, answer `ready` (or `fatal`), then serve the
 * messages of wire.mjs TO_WORKER arriving on `chan` (those that came while loading are replayed). */
export async function boot(makeChannel, config) {
  let host = null;
  let loaded = false;
  const early = [];
  const chan = makeChannel((msg) => {
    if (loaded) dispatch(host, chan, msg);
    else early.push(msg);
  });
  // Output is posted at once, bypassing the channel's per-turn outbox (a batch of one message).
  const now = chan.port ? (records) => chan.port.postMessage([["log", records]]) : (records) => chan.send(["log", records]);
  installConsole(config.function, (records) => chan.send(["log", records]), now);
  // A Worker that exits (process.exit() in user code) still hands over what it printed.
  process.on("exit", () => { flushLog(); chan.flush(); });
  process.on("uncaughtException", (err) => logError("uncaught exception", err));
  process.on("unhandledRejection", (err) => logError("unhandled rejection", err));
  host = new Host(chan, config);
  let mod;
  try {
    mod = await import(pathToFileURL(config.bundle).href);
  } catch (err) {
    chan.send(["fatal", `the code threw while loading: ${describeLoadError(err)}`]);
    return;
  }
  if (typeof mod.default?.fetch !== "function") {
    chan.send(["fatal", "the entry module must `export default { fetch(req, env) { ... } }`"]);
    return;
  }
  host.attach(mod);
  loaded = true;
  const exportedActors = Object.entries(mod)
    .filter(([, v]) => typeof v === "function" && v.prototype instanceof StatefulActor)
    .map(([k]) => k);
  chan.send(["ready", { problems: host.problems, actor_classes: exportedActors }]);
  for (const msg of early) dispatch(host, chan, msg);
  const idle = config.idle_ms > 0 ? config.idle_ms : Infinity;
  setInterval(() => host.sweep(idle), Math.min(idle, STATS_INTERVAL_MS)).unref();
}

// One handler per message of wire.mjs TO_WORKER.
const HANDLERS = {
  reply: (host, chan, id, ok, payload) => chan.reply(id, ok, payload),
  fetch: (host, chan, id, method, url, headers, body) => host.onFetch(id, method, url, headers, body),
  call: (host, chan, id, type, name, method, args, chain) => host.onCall(id, type, name, method, args, chain),
  alarm: (host, chan, id, type, name, failures) => host.onAlarm(id, type, name, failures),
  explore: (host, chan, id, type, name, action, args) => onExplore(host, id, type, name, action, args),
  fetchactor: (host, chan, id, type, name, request, chain) => host.onFetchActor(id, type, name, request, chain),
  fetch_ack: (host, chan, id, bytes) => host.streams.ack(id, bytes),
  fetch_cancel: (host, chan, id) => host.streams.cancel(id),
  body_chunk: (host, chan, id, data) => host.bodies.chunk(id, data),
  body_end: (host, chan, id, error) => host.bodies.end(id, error),
  ping: (host, chan, seq) => chan.send(["pong", seq]),
  open_actors: (host) => host.openActors(),
  close_actors: (host, chan, id) => host.closeActors().then(
    () => chan.send(["result", id, true, null]),
    (err) => chan.send(["result", id, false, errorWire(err)]),
  ),
  // The main thread drained this Worker: report, close the databases, and say so (it then ends the thread).
  // Open WebSockets close first (1001) and their running turns finish.
  stop: (host, chan) => { stopSockets(host).then(() => { host.sweep(0, true); flushLog(); chan.send(["stopped"]); }); },
  ...WS_TO_WORKER,
};

function dispatch(host, chan, msg) {
  const handler = HANDLERS[msg[0]];
  if (!handler || !TO_WORKER[msg[0]]) return process.stderr.write(`[isolate] unknown message ${msg[0]}\n`);
  const begins = WORKER_REQUESTS[msg[0]];
  if (begins !== undefined) {
    took(host.marks, msg[1]);
    if (begins === "taken") began(host.marks, msg[1]); // else its turn marks it (Activation.pump)
  }
  handler(host, chan, ...msg.slice(1));
}

export { HANDLERS };
