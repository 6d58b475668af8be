// One function revision in the data plane: a pool of isolate Workers ("slots", host.mjs), with
// what the main thread keeps for each: the requests in flight to it, the bodies it streams, and
// its supervision (a Worker that exits or stops answering is replaced; the requests whose work
// had begun there fail with a named error and commit nothing: promise 7 of DESIGN.md; the
// others, which it never began, wait for the replacement and are sent to it: delivery.mjs).
//
// Invariants:
// - An activation lives on slots[slotOf(name)] of the group that holds its type's actors
//   (placement.mjs): the owner's installed group, or, during a swap, the old group until it has
//   handed its actors over (`handOver`); a group loaded while an older one still holds one of
//   its types starts with its actors held (its Workers queue every turn) until `openActors`.
// - Every request sent to a Worker has exactly one sink; the sink hears exactly one of: done,
//   result, head (then chunks and one end), or fail.
// - A request runs at most once: it is sent again only if the Worker it was sent to ended without
//   beginning it, and only once (a replacement that also ends without beginning it fails it).

import { slotOf } from "./placement.mjs";
import { Affinity, AFFINITY_SLACK } from "./affinity.mjs";
import { refillSoon, takeWorker } from "./spares.mjs";
import { Outbox, onBatch } from "./channel.mjs";
import { WS_FROM_WORKER, sockets } from "./websockets.mjs";
import { NAMES as N } from "./errors.mjs";
import { mayHaveBegun, newMarks } from "./delivery.mjs";

const PROBE_MS = 25; // how often a Worker with work in flight is asked for a pong
const STALL_MS = 20; // a probe unanswered this long: send new fetches to another slot
export const STREAM_DRAIN_MS = 5000; // a reload or stop lets open response streams run this long

function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

/** An error with the name callers branch on (ActorMethodTimeoutError, ...). */
export class CallError extends Error {
  constructor(name, message, userStack = undefined) {
    super(message);
    this.errorName = name;
    this.userStack = userStack; // the user's frames where it was thrown (stacks.mjs), to pass on
  }
  wire() { return this.userStack ? [this.errorName, this.message, this.userStack] : [this.errorName, this.message]; }
}

/** A sink that settles a promise: for requests whose answer is one `result`. */
export function promiseSink() {
  let sink;
  const promise = new Promise((resolve, reject) => {
    sink = {
      result: (ok, payload) => (ok ? resolve(payload) : reject(new CallError(...errorParts(payload)))),
      fail: (name, message) => reject(new CallError(name, message)),
    };
  });
  return [sink, promise];
}

export function errorParts(payload) {
  if (!Array.isArray(payload) || payload.length < 2) return ["Error", String(payload)];
  return payload.length > 2 && typeof payload[2] === "string" ? [String(payload[0]), String(payload[1]), payload[2]] : [String(payload[0]), String(payload[1])];
}

export function asCallError(err) {
  return err instanceof CallError ? err : new CallError(err?.name ?? "Error", err?.message ?? String(err));
}

class Slot {
  constructor(group, index) {
    this.group = group;
    this.index = index;
    this.worker = null;
    this.up = null; // resolves once the current Worker is ready
    this.live = false;
    this.pending = new Map(); // request id -> sink, until its answer (or a stream's head)
    this.held = null; // while a replacement is on its way: the sinks of requests waiting for it
    this.heldTimer = null; // bounds that wait (the request budget)
    this.streams = new Map(); // request id -> sink of a body it streams, until fetch_end
    this.relays = new Map(); // our fetchactor id -> the upstream stream feeding its body
    this.outgoing = 0; // calls this Worker made through the main thread, not yet answered
    this.nextId = 1;
    this.probe = { seq: 0, answered: 0, sentAt: 0 };
    this.exitReason = null;
    this.framedAt = -Infinity; // when a WebSocket frame was last sent to it (websockets.mjs)
  }

  get name() { return this.group.function; }

  start() {
    const { process_env: extraEnv, ...config } = this.group.config;
    const worker = takeWorker();
    this.marks = newMarks(); // what this Worker took and began, read once it has ended (onExit)
    // Each Worker has its own process.env: the function's secrets and [env_vars] (spec 2.3).
    // actors_held: its turns wait for `open_actors`; actors_closed: it hosts no actor (handed over).
    const actors = { actors_held: this.group.actorsHeld, actors_closed: this.group.handedOver };
    worker.postMessage({ config: { ...config, ...actors, slot: this.index, slots: this.group.size, marks: this.marks }, env: extraEnv });
    this.worker = worker;
    this.ready = false; // this Worker has not answered `ready` yet
    this.exitReason = null;
    this.probe = { seq: 0, answered: 0, sentAt: 0 };
    this.up = new Promise((resolve, reject) => { this.onReady = resolve; this.onFatal = reject; });
    this.up.catch(() => {});
    this.outbox = new Outbox((batch) => worker.postMessage(batch));
    worker.on("message", onBatch((msg) => { if (this.worker === worker) this.onMessage(msg); }));
    worker.on("error", (err) => { this.lastError = err; });
    worker.on("exit", (code) => this.onExit(worker, code));
    return this.up;
  }

  send(msg) { this.outbox.push(msg); }

  /** Send [op, id, ...args] (an op of wire.mjs WORKER_REQUESTS) to the Worker; `sink` hears the
   * answer. While the Worker is being replaced the request waits for the new one. */
  request(op, sink, ...args) {
    const msg = [op, 0, ...args];
    sink.sent = msg; // to send again if this Worker ends without beginning it (onExit)
    if (!this.live) {
      if (!this.held) return sink.fail(N.ActorIsolateCrashedError, `the isolate for ${this.name} is not running`);
      this.held.push(sink);
      return this.holdAtMost();
    }
    msg[1] = this.nextId++;
    this.pending.set(msg[1], sink);
    this.outbox.push(msg);
  }

  /** What waits for the replacement waits at most the request budget. */
  holdAtMost() {
    this.heldTimer ??= setTimeout(() => this.failHeld(N.ActorIsolateCrashedError, `the isolate for ${this.name} is not available`), this.group.config.request_timeout_ms);
  }

  /** The new Worker is ready: send it what waited, in the order it came. */
  sendHeld() {
    for (const sink of this.takeHeld()) this.request(sink.sent[0], sink, ...sink.sent.slice(2));
  }

  failHeld(name, message) {
    const held = this.takeHeld();
    for (const sink of held) sink.fail(name, message);
    if (held.length) this.group.quiet();
  }

  /** Stop holding: what waited, for the caller to send or fail. */
  takeHeld() {
    const held = this.held ?? [];
    this.held = null;
    clearTimeout(this.heldTimer);
    this.heldTimer = null;
    return held;
  }

  get busy() { return this.pending.size + this.streams.size; }

  /** Work running in this Worker now: what it was sent, less what waits on other Workers. */
  get active() { return this.pending.size - this.outgoing; }

  /** Not heard from for a while although it has work: likely running a long synchronous stretch. */
  stalled(now) {
    return this.probe.seq > this.probe.answered && now - this.probe.sentAt > STALL_MS;
  }

  onMessage(msg) {
    const handler = FROM_WORKER_HANDLERS[msg[0]];
    if (handler) handler(this, ...msg.slice(1));
  }

  settle(id) {
    const sink = this.pending.get(id);
    if (sink) {
      this.pending.delete(id);
      if (!this.busy) this.group.quiet();
    }
    return sink;
  }

  onExit(worker, code) {
    if (this.worker !== worker) return;
    this.live = false;
    sockets.slotGone(this, worker);
    const reason = this.exitReason ?? `the isolate for ${this.name} exited (code ${code})`;
    const failName = this.exitReason ? N.ActorMethodTimeoutError : N.ActorIsolateCrashedError;
    this.onFatal(new CallError(N.ActorIsolateCrashedError, this.lastError ? `${reason}: ${this.lastError.message}` : reason));
    // A Worker that exited while loading is not replaced here: start() (or the replace loop)
    // hears it through `up`. A group that handed its actors over only runs out its streams:
    // nothing to replace, and nothing of it is sent again.
    const replacing = !this.group.stopping && !this.group.handedOver && this.ready;
    // What this Worker began (and a stream it was sending) fails: it may have had effects and
    // must not run twice. What it never began waits for the replacement, ahead of what came
    // meanwhile (requests run in the order they came), unless it was sent again already.
    const failed = [...this.streams.values()];
    const again = [];
    for (const [id, sink] of this.pending) {
      if (replacing && !sink.resent && !mayHaveBegun(this.marks, id)) {
        sink.resent = true;
        again.push(sink);
      } else {
        failed.push(sink);
      }
    }
    this.pending.clear();
    this.streams.clear();
    this.outgoing = 0;
    for (const relay of this.relays.values()) relay.cancel();
    this.relays.clear();
    for (const sink of failed) sink.fail(failName, reason);
    if (replacing) {
      this.held = [...again, ...(this.held ?? [])];
      if (this.held.length) this.holdAtMost();
    } else if (this.group.stopping || this.group.handedOver) {
      this.failHeld(N.ActorIsolateCrashedError, `the isolate for ${this.name} is stopping`);
    }
    this.group.quiet();
    if (replacing) this.group.replace(this, reason);
  }

  /** The watchdog: probe a Worker with work in flight; one silent past the budget is replaced. */
  watch(now, budgetMs) {
    // WebSocket frames are work too (websockets.mjs stamps framedAt), and a probe sent is judged.
    const p = this.probe;
    if (!this.live || (!this.pending.size && !(now - this.framedAt < budgetMs) && p.seq === p.answered)) return;
    if (p.seq === p.answered) {
      p.seq++;
      p.sentAt = now;
      this.outbox.push(["ping", p.seq]);
    } else if (now - p.sentAt > budgetMs) {
      this.exitReason = `the isolate for ${this.name} was blocked for more than ${budgetMs} ms (a synchronous loop in user code?) and was replaced`;
      this.live = false;
      this.held ??= []; // requests from now on wait for the replacement (onExit decides the rest)
      this.worker.terminate();
    }
  }
}

// One handler per message of wire.mjs FROM_WORKER, its parameters named as the fields.
const FROM_WORKER_HANDLERS = {
  ready: (slot, info) => { slot.ready = true; slot.live = true; slot.info = info; slot.sendHeld(); slot.onReady(info); },
  fatal: (slot, message) => {
    slot.onFatal(new CallError(N.StartupError, message));
    slot.worker.terminate();
  },
  result: (slot, id, ok, payload) => slot.settle(id)?.result(ok, payload),
  fetch_done: (slot, id, status, headers, body) => slot.settle(id)?.done(status, headers, body),
  fetch_head: (slot, id, status, headers) => {
    const sink = slot.settle(id);
    if (!sink) return;
    sink.sent = null; // begun: never sent again (and a long stream does not keep the request body)
    slot.streams.set(id, sink);
    sink.head(status, headers, {
      ack: (bytes) => { if (slot.streams.has(id)) slot.send(["fetch_ack", id, bytes]); },
      cancel: () => { if (slot.streams.delete(id)) { slot.send(["fetch_cancel", id]); if (!slot.busy) slot.group.quiet(); } },
    });
  },
  fetch_chunk: (slot, id, data) => slot.streams.get(id)?.chunk(data),
  fetch_end: (slot, id, error) => {
    const sink = slot.streams.get(id);
    if (!sink) return;
    slot.streams.delete(id);
    if (!slot.busy) slot.group.quiet();
    sink.end(error);
  },
  body_ack: (slot, id, bytes) => slot.relays.get(id)?.ack(bytes),
  body_cancel: (slot, id) => { slot.relays.get(id)?.cancel(); slot.relays.delete(id); },
  call: (slot, id, type, name, method, args, chain) => {
    slot.group.learn(slot, type, name);
    const worker = slot.worker;
    slot.outgoing++;
    const settled = () => { if (slot.worker === worker) slot.outgoing--; return slot.live && slot.worker === worker; };
    slot.group.router.call(slot.group, type, name, method, args, chain).then(
      (bytes) => settled() && slot.send(["reply", id, true, bytes]),
      (err) => settled() && slot.send(["reply", id, false, asCallError(err).wire()]),
    );
  },
  fetchactor: (slot, id, type, name, request, chain) => {
    // The answer is a whole body, or [status, headers, null] followed by body_chunk/body_end.
    slot.group.learn(slot, type, name);
    const worker = slot.worker;
    slot.outgoing++;
    let answered = false;
    const settled = () => {
      if (!answered && slot.worker === worker) slot.outgoing--;
      answered = true;
      return slot.live && slot.worker === worker;
    };
    slot.group.router.fetchActor(slot.group, type, name, request, chain, {
      result: (ok, payload) => settled() && slot.send(["reply", id, ok, payload]),
      head: (status, headers, upstream) => {
        if (!settled()) return upstream.cancel();
        slot.relays.set(id, upstream);
        slot.send(["reply", id, true, [status, headers, null]]);
      },
      chunk: (data) => slot.live && slot.send(["body_chunk", id, data]),
      end: (error) => { slot.relays.delete(id); if (slot.live) slot.send(["body_end", id, error]); },
      fail: (name, message) => {
        if (!settled()) return;
        if (slot.relays.delete(id)) slot.send(["body_end", id, `${name}: ${message}`]);
        else slot.send(["reply", id, false, [name, message]]);
      },
    });
  },
  alarm_changed: (slot, type, name, fire_ms) => slot.group.router.report(["alarm_changed", type, name, fire_ms]),
  actor_stats: (slot, rows) => slot.group.router.report(["actor_stats", rows]),
  log: (slot, records) => slot.group.router.log?.pushAll(records),
  pong: (slot, seq) => { slot.probe.answered = Math.max(slot.probe.answered, seq); },
  stopped: (slot) => slot.worker.terminate(),
  ...WS_FROM_WORKER,
};

export { FROM_WORKER_HANDLERS };

export class Group {
  /** `config`: what host.mjs needs (bundle, function, bindings, ...), plus `workers` (pool size),
   * `process_env` (added to each Worker's environment) and the budgets in ms. */
  constructor(router, id, config) {
    this.router = router;
    this.id = id;
    this.config = config;
    this.function = config.function;
    this.size = Math.max(1, config.workers | 0);
    this.slots = Array.from({ length: this.size }, (_, i) => new Slot(this, i));
    this.rr = 0;
    this.affinity = new Affinity(); // request path -> the slot whose actor its handler calls
    this.owned = new Set(config.owned_types);
    this.stopping = false;
    this.exited = false; // every Worker has exited (unload): its databases are closed
    // Actors (Router.blocked): held until an older group that holds one of our types let go;
    // handed over once a swap's `handOver` closed them in every Worker of this group.
    this.actorsHeld = false;
    this.handedOver = false;
    this.opened = deferred();
    this.quietWaiters = [];
    this.exitWaiters = [];
    const budget = Math.max(config.method_timeout_ms, 200);
    this.watchdog = setInterval(() => {
      const now = performance.now();
      for (const slot of this.slots) slot.watch(now, budget);
    }, PROBE_MS);
    this.watchdog.unref();
  }

  /** Start every slot; resolves with the first slot's `ready` info, rejects with a CallError. */
  async start() {
    let timer;
    const bound = this.config.startup_timeout_ms;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CallError(N.StartupTimeout, `did not finish loading within ${bound} ms`)), bound);
    });
    try {
      const infos = await Promise.race([Promise.all(this.slots.map((s) => s.start())), timeout]);
      return infos[0];
    } catch (err) {
      await this.unload(0);
      throw asCallError(err);
    } finally {
      clearTimeout(timer);
      refillSoon(this.size);
    }
  }

  slotFor(name) { return this.slots[this.size === 1 ? 0 : slotOf(name, this.size)]; }

  /** Whether this group may have actor databases open (or will, once its actors open). */
  get holdsActors() { return !this.handedOver && !this.exited; }

  /** The older group that held our types let go: the Workers run their queued turns. */
  openActors() {
    this.opened.resolve();
    if (!this.actorsHeld) return;
    this.actorsHeld = false;
    for (const slot of this.slots) if (slot.worker && slot.worker.threadId >= 0) slot.send(["open_actors"]);
  }

  /** A slot for a fetch handler of `route` (the request's path): the one hosting the actor this
   * route's handler is expected to call (affinity.mjs: so the call stays on its Worker), unless
   * it is busier than the least busy slot by more than AFFINITY_SLACK; else the live slot with
   * the least work running in it (ties in round-robin order). Slots that look stuck on a
   * long synchronous stretch are passed over, so a CPU-bound actor does not hold up requests
   * that do not need it. */
  fetchSlot(route) {
    if (this.size === 1) return this.slots[0];
    const now = performance.now();
    let best = null;
    for (let i = 0; i < this.size; i++) {
      const slot = this.slots[(this.rr + i) % this.size];
      if (!slot.live || slot.stalled(now)) continue;
      if (best === null || slot.active < best.active) best = slot;
    }
    if (best === null) best = this.slots[this.rr];
    const learned = route === undefined ? undefined : this.affinity.slotFor(route);
    if (learned !== undefined) {
      const slot = this.slots[learned];
      if (slot !== best && slot.live && !slot.stalled(now) && slot.active <= best.active + AFFINITY_SLACK) best = slot;
    }
    this.rr = (best.index + 1) % this.size;
    return best;
  }

  /** A Worker's handler called actor (type, name) through the main thread: teach the affinity
   * which slot that actor and (when it can tell) that request's path belong to. */
  learn(slot, type, name) {
    if (this.size === 1 || !this.owned.has(type)) return;
    this.affinity.learn(slot.pending.values(), slot.pending.size, name, this.slotFor(name).index);
  }

  get inFlight() {
    let n = 0;
    for (const slot of this.slots) n += slot.pending.size + (slot.held?.length ?? 0);
    return n;
  }

  get streaming() {
    let n = 0;
    for (const slot of this.slots) n += slot.streams.size;
    return n;
  }

  quiet() {
    if (this.inFlight) return;
    for (const wake of this.quietWaiters.splice(0)) wake();
  }

  /** Resolve true once nothing is in flight, false if something still is after `timeoutMs`. */
  async settle(timeoutMs) {
    const deadline = performance.now() + timeoutMs;
    // A loop: work may be sent between the wake-up and the await's continuation.
    while (this.inFlight) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.quietWaiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return true;
  }

  /** Resolve once nothing is in flight (bounded by `timeoutMs`), then let streams run up to
   * STREAM_DRAIN_MS and cut what is left. */
  async drain(timeoutMs) {
    await this.settle(timeoutMs);
    const deadline = performance.now() + STREAM_DRAIN_MS;
    while (this.streaming && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.cutStreams();
  }

  /** End every open response stream as cut (the client's connection is aborted mid-body). */
  cutStreams() {
    for (const slot of this.slots) {
      for (const [id, sink] of slot.streams) {
        slot.send(["fetch_cancel", id]);
        sink.end(`the isolate for ${this.function} is stopping (streams get ${STREAM_DRAIN_MS / 1000} s to finish)`);
      }
      slot.streams.clear();
    }
  }

  /** A swap's old group gives up its actors while its Workers run on for their open streams:
   * once nothing is in flight (the calls its own requests make stay here until then), no actor
   * request is sent here any more (Router.toActor) and each Worker closes its WebSockets (1001)
   * and, after the turns it has, every actor database. If the work in flight outlasts
   * `timeoutMs`, or a Worker does not confirm in that time, the group is unloaded instead: its
   * Workers exit, which closes their databases, and its streams are cut. Either way, once this
   * resolves the group holds no actor database. */
  async handOver(timeoutMs) {
    await this.opened.promise; // actors it was still waiting for are its to hand over only once it got them
    let closed = false;
    if (await this.settle(timeoutMs)) {
      this.handedOver = true;
      const closes = this.slots.map((slot) => {
        const [sink, promise] = promiseSink();
        slot.request("close_actors", sink);
        return promise;
      });
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs, false); });
      closed = await Promise.race([Promise.all(closes).then(() => true, () => false), late]);
      clearTimeout(timer);
    }
    this.handedOver = true;
    if (!closed) {
      this.cutStreams();
      await this.unload();
    }
  }

  /** Stop every Worker: each reports its last figures and closes its databases, then exits
   * (terminated after `graceMs`). Resolves once all have exited. */
  async unload(graceMs = 5000) {
    this.stopping = true;
    clearInterval(this.watchdog);
    for (const slot of this.slots) slot.failHeld(N.ActorIsolateCrashedError, `the isolate for ${this.function} is stopping`);
    const exits = this.slots.filter((s) => s.worker && s.worker.threadId >= 0).map((s) => new Promise((resolve) => {
      s.worker.once("exit", resolve);
      if (graceMs > 0 && s.live) s.send(["stop"]);
      else s.worker.terminate();
      if (graceMs > 0) setTimeout(() => s.worker.terminate(), graceMs).unref();
    }));
    await Promise.all(exits);
    this.exited = true;
  }

  /** A Worker exited or hung while serving: tell Python, start a new one on the same slot. */
  async replace(slot, reason) {
    this.router.report(["replaced", this.function, reason]);
    let delay = 50;
    while (!this.stopping) {
      try {
        await slot.start();
        refillSoon(this.size);
        return;
      } catch (err) {
        // What waited for this attempt fails with it (what comes next waits for the next one).
        slot.failHeld(N.ActorIsolateCrashedError, `the isolate for ${this.function} is not available: ${err.message}`);
        if (this.stopping) return;
        slot.held = [];
        this.router.report(["replaced", this.function, `restart failed: ${err.message}`]);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }
}
