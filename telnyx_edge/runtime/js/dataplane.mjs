// The data plane: one Node.js process per runtime, started by Python (runtime/dataplane.py).
//
// Its main thread owns the HTTP socket (ingress.mjs), routes each request by Host to a function,
// and each stub call to the Worker hosting the target activation (group.mjs, placement.mjs);
// the Workers run user code and commit storage. Nothing on a request's way crosses into Python.
// Python, the control plane, talks to this thread over the control channel: an inherited Unix
// socket (fd in argv[2]) in MessagePack frames, messages of wire.mjs TO_DATAPLANE/FROM_DATAPLANE.
// The listening sockets Python created are fds argv[3] (IPv4) and argv[4] (IPv6).
//
// Routing state: functions (name -> installed group, hosts, gate), owners (actor type -> function).
// A swap installs the new group as soon as it has loaded: new requests go to the new code at
// once, and requests in flight finish in the old group. Actors move separately, so no two Workers
// ever host one activation or hold one actor database: a group loaded while an older group
// still holds one of its actor types starts with its actors held (its Workers queue those
// turns); the old group keeps its actors for the calls its own requests make until it has
// answered everything in flight, then hands them over (its Workers close every actor database
// and run on only for their open response streams, at most STREAM_DRAIN_MS); then the new
// group's actors open (`wakeHeld`). A function's gate holds requests only while it has no group.

import net from "node:net";
import { SocketChannel } from "./channel.mjs";
import { CallError, Group, asCallError, promiseSink } from "./group.mjs";
import { Ingress } from "./ingress.mjs";
import { TO_DATAPLANE } from "./wire.mjs";
import { keepSpares } from "./spares.mjs";
import { LogBatch } from "./logrecords.mjs";
import inspector from "node:inspector";
import { fileURLToPath } from "node:url";
import { NAMES as N } from "./errors.mjs";
import { explore } from "./explorer-route.mjs";

const AF_INET6 = 10; // Linux's value, as Python's socket.AF_INET6 sends it

class Router {
  constructor(chan) {
    this.chan = chan;
    this.functions = new Map(); // name -> { group, hosts: Set, fallback, gate: null | { promise, open } }
    this.owners = new Map(); // actor type -> function name
    this.groups = new Map(); // group id -> Group
    this.requestTimeoutMs = 60_000;
    this.log = new LogBatch((records) => chan.send(["log", records])); // logrecords.mjs
  }

  report(msg) { this.chan.send(msg); }

  // -- routing ------------------------------------------------------------------------------

  /** The function serving host `name` (lower-case, from authority.mjs; a trailing dot, the fully
   * qualified form, names the same host), else the fallback function, else null. */
  functionForHost(name) {
    if (name.endsWith(".")) name = name.slice(0, -1);
    let fallback = null;
    for (const [fn, f] of this.functions) {
      if (f.hosts.has(name)) return fn;
      if (f.fallback || !f.hosts.size) fallback = fn;
    }
    return fallback;
  }

  noFunction(host) {
    const known = [...this.functions.values()].flatMap((f) => [...f.hosts]).sort();
    return new CallError(N.FunctionNotFound, `no function serves host '${host}'; known hosts: ${known.join(", ") || "-"}`);
  }

  /** The function's group if its gate is open, else null (then await groupOf). */
  groupNow(fn) {
    const f = this.functions.get(fn);
    return f && !f.gate && f.group ? f.group : null;
  }

  async groupOf(fn) {
    let f = this.functions.get(fn);
    if (!f) throw new CallError(N.FunctionNotFound, `function '${fn}' is no longer served`);
    if (f.gate || !f.group) {
      const gate = f.gate ?? this.closeGate(f);
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(resolve, this.requestTimeoutMs, "late"); });
      const outcome = await Promise.race([gate.promise, late]);
      clearTimeout(timer);
      f = this.functions.get(fn);
      if (outcome === "late" || !f || !f.group) throw new CallError(N.ActorIsolateCrashedError, `the isolate for ${fn} is not available`);
    }
    return f.group;
  }

  closeGate(f) {
    let open;
    const promise = new Promise((resolve) => { open = resolve; });
    f.gate = { promise, open };
    return f.gate;
  }

  /** Wait (bounded) for a slot's Worker to be up again after a replacement. */
  async slotUp(slot) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CallError(N.ActorIsolateCrashedError, `the isolate for ${slot.name} is not available`)), this.requestTimeoutMs);
    });
    try {
      await Promise.race([slot.up, late]);
    } catch (err) {
      throw asCallError(err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The group hosting `type` for a call from `from` (a group, or null for Python's alarms and
   * the explorer). A call from a group that owns the type stays in it until that group has
   * handed its actors over (a swap's old group finishing its requests in flight); every other
   * call goes to the owner's installed group, whose Workers hold it while its actors are held. */
  async ownerGroup(type, from) {
    if (from && from.owned.has(type) && !from.handedOver && !from.stopping) return from;
    const owner = this.owners.get(type);
    if (owner === undefined) {
      throw new CallError(N.ActorTypeNotFoundError, `no running function owns actor type '${type}' (export the class from a function's main)`);
    }
    return this.groupNow(owner) ?? await this.groupOf(owner);
  }

  async targetSlot(type, name, from) {
    const group = await this.ownerGroup(type, from);
    const slot = group.slotFor(name);
    if (!slot.live) await this.slotUp(slot);
    return slot;
  }

  /** Send [op, id, ...args] for actor (type, name) to the Worker hosting it; `sink` hears the
   * answer. The slot is checked and the request sent in one step (no await between), so nothing
   * reaches a group after it handed its actors over. */
  async toActor(from, type, name, sink, op, ...args) {
    for (let tries = 0; tries < 3; tries++) {
      let slot;
      try {
        slot = await this.targetSlot(type, name, from);
      } catch (err) {
        const e = asCallError(err);
        return sink.fail(e.errorName, e.message);
      }
      if (!slot.group.handedOver) return void slot.request(op, sink, ...args);
    }
    sink.fail(N.ActorIsolateCrashedError, `the isolate hosting ${type} is not available (a reload is under way; retry)`);
  }

  // toActor never rejects: every failure reaches the sink.
  call(from, type, name, method, args, chain) {
    const [sink, promise] = promiseSink();
    this.toActor(from, type, name, sink, "call", type, name, method, args, chain);
    return promise;
  }

  fetchActor(from, type, name, request, chain, sink) {
    this.toActor(from, type, name, sink, "fetchactor", type, name, request, chain);
  }

  alarm(type, name, failures) {
    const [sink, promise] = promiseSink();
    this.toActor(null, type, name, sink, "alarm", type, name, failures);
    return promise;
  }

  // -- actors across a swap -----------------------------------------------------------------

  /** Whether an older group that owns one of `group`'s actor types may still hold its actors
   * (it has neither handed them over nor exited): then `group`'s actors must wait. */
  blocked(group) {
    for (const g of this.groups.values()) {
      if (g === group || g.id >= group.id || !g.holdsActors) continue;
      for (const type of group.owned) if (g.owned.has(type)) return true;
    }
    return false;
  }

  /** A group let go of its actors (handed over or exited): open those of the groups now free. */
  wakeHeld() {
    for (const g of [...this.groups.values()].sort((a, b) => a.id - b.id)) {
      if (g.actorsHeld && !this.blocked(g)) g.openActors();
    }
  }
}

// One handler per message of wire.mjs TO_DATAPLANE, its parameters named as the fields.
const HANDLERS = {
  load: (dp, id, group, config) => {
    const r = dp.router;
    r.requestTimeoutMs = config.request_timeout_ms;
    const g = new Group(r, group, config);
    // A swap: the old group still holds these types' actors; ours wait until it hands them over.
    if (r.blocked(g)) g.actorsHeld = true;
    else g.opened.resolve();
    r.groups.set(group, g);
    answer(dp, id, g.start().catch((err) => { r.groups.delete(group); r.wakeHeld(); throw err; }));
  },
  install: (dp, function_name, group, hosts, fallback, owned_types) => {
    const fn = function_name;
    const ownedTypes = owned_types;
    const r = dp.router;
    const f = r.functions.get(fn) ?? { group: null, hosts: new Set(), fallback: false, gate: null };
    f.group = r.groups.get(group) ?? null;
    f.hosts = new Set(hosts.map((h) => h.toLowerCase())); // host names are case-insensitive (RFC 9110 4.2.3)
    f.fallback = fallback;
    for (const [type, owner] of [...r.owners]) if (owner === fn && !ownedTypes.includes(type)) r.owners.delete(type);
    for (const type of ownedTypes) r.owners.set(type, fn);
    r.functions.set(fn, f);
    const gate = f.gate;
    f.gate = null;
    gate?.open();
  },
  uninstall: (dp, function_name) => {
    const fn = function_name;
    const r = dp.router;
    const f = r.functions.get(fn);
    r.functions.delete(fn);
    for (const [type, owner] of [...r.owners]) if (owner === fn) r.owners.delete(type);
    f?.gate?.open();
  },
  handover: (dp, id, group, timeout_ms) => {
    const r = dp.router;
    const g = r.groups.get(group);
    answer(dp, id, g ? g.handOver(timeout_ms).finally(() => r.wakeHeld()) : Promise.resolve());
  },
  drain: (dp, id, group, timeout_ms) => {
    const g = dp.router.groups.get(group);
    answer(dp, id, g ? g.drain(timeout_ms) : Promise.resolve());
  },
  unload: (dp, id, group) => {
    // The group stays known until its Workers have exited: until then it may hold actor databases.
    const r = dp.router;
    const g = r.groups.get(group);
    answer(dp, id, g ? g.unload().finally(() => { r.groups.delete(group); r.wakeHeld(); }) : Promise.resolve());
  },
  alarm: (dp, id, type, name, failures) => answer(dp, id, dp.router.alarm(type, name, failures)),
  explore: (dp, id, type, name, action, args) => answer(dp, id, explore(dp.router, type, name, action, args)),
  listen: (dp, id, family) => answer(dp, id, dp.ingress.listen(family === AF_INET6 ? dp.listenFds[1] : dp.listenFds[0])),
  close: (dp, id) => answer(dp, id, dp.ingress.close()),
  reply: (dp, id, ok, payload) => dp.chan.reply(id, ok, payload),
};

function answer(dp, id, promise) {
  promise.then(
    (value) => dp.chan.send(["result", id, true, value ?? null]),
    (err) => dp.chan.send(["result", id, false, asCallError(err).wire()]),
  );
}

function main() {
  const socket = new net.Socket({ fd: Number(process.argv[2]), readable: true, writable: true, allowHalfOpen: true });
  // The listening sockets Python created (IPv4, IPv6; -1 when absent); it binds one before `listen`.
  const dp = { listenFds: [Number(process.argv[3]), Number(process.argv[4])] };
  dp.chan = new SocketChannel(socket, (msg) => {
    const handler = HANDLERS[msg[0]];
    if (!handler || !TO_DATAPLANE[msg[0]]) return process.stderr.write(`[data plane] unknown message ${msg[0]}\n`);
    handler(dp, ...msg.slice(1));
  });
  dp.router = new Router(dp.chan);
  dp.ingress = new Ingress(dp.router);
  // Python ended the channel after unloading every group: exit once the last frames are out.
  socket.on("end", () => {
    dp.router.log.flush();
    dp.chan.flush();
    socket.end(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
  socket.on("error", () => process.exit(0));
  process.on("uncaughtException", (err) => process.stderr.write(`[data plane] uncaught exception: ${err?.stack ?? err}\n`));
  // inspector: the ws:// URL of the inspector when node runs with --inspect (dev --inspect), else null.
  dp.chan.send(["ready", { pid: process.pid, inspector: inspector.url() ?? null }]);
  keepSpares(1); // one per CPU: warm while Python bundles the first revision
}

export { HANDLERS, Router };

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
