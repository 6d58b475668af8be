// WebSockets, Worker side (spec 3.9): the socket an actor owns, and its events as turns.
//
// The fetch handler forwards an upgrade with `stub.fetch(req)`; the Worker hosting the target
// activation takes the socket (`ws_accept` to the main thread) and runs `webSocket(ws, req)` as
// a turn; the stub's answer is a Response whose status is 101, which the fetch handler returns.
// Every later event (message, error, close) is one more turn in the activation's mailbox, so it
// runs one at a time with RPCs and alarms, under the method budget, its writes committed before
// the next turn; frames that arrive while webSocket() runs simply wait in the mailbox behind it
// (buffered and replayed, in order). `ws.send` and `ctx.broadcast` write at once.
//
// Invariants: a socket belongs to the activation that accepted it; if that activation is torn
// down (a turn timed out, a commit failed) its sockets close with 1011 and their queued events
// do nothing; a handler that throws or times out closes its socket with 1011; at most
// MAX_QUEUED_EVENTS events or MAX_QUEUED_BYTES bytes wait per socket (beyond: 1013); a Worker
// that stops closes its sockets with 1001 and lets the turns running finish first.

import { logError } from "./actors.mjs";

export const MAX_QUEUED_EVENTS = 256;
export const MAX_QUEUED_BYTES = 1024 * 1024;
const STOP_WAIT_MS = 4000; // within the main thread's 5 s grace before it terminates a stopping Worker
const STRIPPED = /^(upgrade|connection|sec-websocket-.*)$/; // the handshake's own headers
const PRINTABLE = /^[\x20-\x7e]*$/;
const NAME_RE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const CONNECTING = 0, OPEN = 1, CLOSING = 2, CLOSED = 3;

/** The socket an actor's webSocket(ws, req) gets: the `ws` package's surface, events as turns. */
export class ActorWebSocket {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;

  constructor(host, id, act, url, protocol) {
    this._host = host;
    this._id = id;
    this._act = act;
    this._listeners = new Map();
    this._queued = 0; // events in the mailbox, not yet delivered (their turn not started)
    this._queuedBytes = 0;
    this._dead = false; // its activation is gone: events do nothing
    this.readyState = OPEN;
    this.url = url;
    this.protocol = protocol;
    this.extensions = "";
    this.binaryType = "nodebuffer";
  }

  get bufferedAmount() { return 0; }

  on(event, listener) {
    if (typeof listener !== "function") throw new TypeError(`ws.on("${event}", listener): the listener must be a function`);
    let list = this._listeners.get(event);
    if (!list) this._listeners.set(event, (list = []));
    list.push(listener);
    return this;
  }

  addListener(event, listener) { return this.on(event, listener); }
  addEventListener(event, listener) { return this.on(event, listener); }

  once(event, listener) {
    const wrapped = (...args) => { this.off(event, wrapped); return listener.apply(this, args); };
    wrapped.listener = listener;
    return this.on(event, wrapped);
  }

  off(event, listener) {
    const list = this._listeners.get(event);
    const i = list ? list.findIndex((l) => l === listener || l.listener === listener) : -1;
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  removeListener(event, listener) { return this.off(event, listener); }
  removeEventListener(event, listener) { return this.off(event, listener); }
  removeAllListeners(event) { if (event === undefined) this._listeners.clear(); else this._listeners.delete(event); return this; }
  listenerCount(event) { return this._listeners.get(event)?.length ?? 0; }

  /** Send a frame now (not held until the turn commits). A string is a text frame, bytes a binary one. */
  send(data, options, cb) {
    if (typeof options === "function") { cb = options; options = {}; }
    const [payload, binary] = frame(data, options?.binary);
    if (this.readyState !== OPEN) {
      if (cb) queueMicrotask(() => cb(new Error(`WebSocket is not open: readyState ${this.readyState} (CLOSING or CLOSED)`)));
      return;
    }
    this._host.chan.send(["ws_send", this._id, payload, binary]);
    if (cb) queueMicrotask(() => cb());
  }

  /** Close with `code` (1000 by default; 1000-1003, 1007-1014 or 3000-4999) and a reason of at most 123 bytes. */
  close(code = 1000, reason = "") {
    checkClose(code, reason);
    if (this.readyState !== OPEN) return;
    this.readyState = CLOSING;
    this._host.chan.send(["ws_close", this._id, code, String(reason)]);
  }

  /** Drop the connection without a close handshake (both ends see 1006). */
  terminate() {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    this._host.chan.send(["ws_close", this._id, 1006, ""]);
  }

  ping() {}
  pong() {}

  /** Call every listener of `event`; settles when the async ones have. */
  _emit(event, args) {
    const list = this._listeners.get(event);
    if (!list?.length) return undefined;
    const pending = [];
    for (const listener of [...list]) {
      const out = listener.apply(this, args);
      if (out && typeof out.then === "function") pending.push(out);
    }
    return pending.length ? Promise.all(pending) : undefined;
  }

  /** The runtime closes it (handler failed, queue full): the client is told, the close event follows. */
  _fail(code, reason) {
    if (this.readyState === OPEN) {
      this.readyState = CLOSING;
      this._host.chan.send(["ws_close", this._id, code, reason.slice(0, 120)]);
    }
  }
}

function frame(data, binaryOption) {
  if (typeof data === "string") return [data, binaryOption === true];
  if (data instanceof ArrayBuffer) return [new Uint8Array(data.slice(0)), binaryOption ?? true];
  if (ArrayBuffer.isView(data)) return [new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)), binaryOption ?? true];
  throw new TypeError(`ws.send(data): data must be a string, an ArrayBuffer or a typed array, not ${data === null ? "null" : typeof data}`);
}

function checkClose(code, reason) {
  const ok = Number.isInteger(code) && ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999));
  if (!ok) throw new RangeError(`ws.close(code): ${code} is not a close code an endpoint may send (1000, or 3000-4999 for your own)`);
  if (Buffer.byteLength(String(reason)) > 123) throw new RangeError("ws.close(code, reason): the reason must be at most 123 bytes");
}

// -- the activation's sockets -------------------------------------------------------------------

function socketsOf(act) { return (act.sockets ??= new Set()); }

/** ctx.count(): the open sockets on this activation. */
export function socketCount(act) {
  let n = 0;
  if (act.sockets) for (const s of act.sockets) if (s.readyState === OPEN) n++;
  return n;
}

/** ctx.broadcast(data): one frame to every open socket of this activation, now; returns how many. */
export function broadcast(act, data) {
  const [payload, binary] = frame(data);
  const ids = [];
  if (act.sockets) for (const s of act.sockets) if (s.readyState === OPEN) ids.push(s._id);
  if (ids.length) act.host.chan.send(["ws_broadcast", ids, payload, binary]);
  return ids.length;
}

/** The activation was torn down: its instance (and the listeners on its sockets) is gone. */
export function closeActivationSockets(act, code, reason) {
  if (!act.sockets) return;
  for (const sock of act.sockets) {
    sock._dead = true;
    sock._fail(code, reason);
  }
}

/** Enqueue one event of `sock` as a turn of its activation. It counts against the socket's
 * inbound queue until it is delivered (its turn starts), not while its commit is in flight. */
function enqueueEvent(sock, what, bytes, run) {
  sock._queued++;
  sock._queuedBytes += bytes;
  let delivered = false;
  const done = () => {
    if (delivered) return;
    delivered = true;
    sock._queued--;
    sock._queuedBytes -= bytes;
  };
  sock._act.enqueue({
    kind: "ws", method: what, chain: [],
    handler: () => { done(); return function wsEvent() { return sock._dead ? undefined : run(); }; },
    args: [],
    resolve: done,
    reject: (err) => {
      done();
      if (sock._dead) return;
      logError(`${sock._act.key} ${what} failed; the socket is closed with 1011`, err);
      sock._fail(1011, `${err?.name ?? "Error"} in ${what}`);
    },
  });
}

// -- the stub side: forwarding an upgrade -------------------------------------------------------

/** Whether `req` (given to stub.fetch) asks for a WebSocket upgrade. */
export function isUpgrade(req) {
  return req.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** stub.fetch(req) with an upgrade: hand the socket to the actor; resolves with the 101 answer. */
export async function forwardUpgrade(host, type, name, req, chain) {
  if (!NAME_RE.test(name)) {
    throw new TypeError(`a WebSocket can only go to an actor whose name is printable ASCII without leading or trailing spaces, not ${JSON.stringify(name)}`);
  }
  const key = req.headers.get("sec-websocket-key");
  const socket = key === null ? undefined : host.wsPending?.get(key);
  if (socket === undefined) {
    throw new TypeError("stub.fetch(): this WebSocket upgrade is not one the fetch handler is answering (forward the request it got, or a Request built from it that keeps its Sec-WebSocket-Key), or it was forwarded already");
  }
  const headers = [];
  for (const [k, v] of req.headers) {
    if (!PRINTABLE.test(v)) throw new TypeError(`stub.fetch(): the value of header ${k} is not printable ASCII; a WebSocket upgrade forwards only printable ASCII header values`);
    if (!STRIPPED.test(k)) headers.push(k, v);
  }
  host.wsPending.delete(key);
  const protocol = req.headers.get("sec-websocket-protocol")?.split(",")[0].trim() ?? "";
  const wire = [req.method, req.url, headers, Buffer.alloc(0), [socket, protocol]];
  if (host.hosts(type, name)) acceptSocket(host, type, name, wire);
  else {
    const out = await host.chan.request("fetchactor", type, name, wire, chain);
    if (out[0] !== 101) return new Response(out[2].length ? out[2] : null, { status: out[0], headers: pairsOf(out[1]) });
  }
  return switchingProtocols();
}

/** The answer meaning "the actor took the socket": status 101 (Response itself refuses 101). */
function switchingProtocols() {
  const res = new Response(null, { status: 200 });
  Object.defineProperty(res, "status", { value: 101 });
  Object.defineProperty(res, "statusText", { value: "Switching Protocols" });
  return res;
}

/** The owner's Worker: take socket `wire[4]` for (type, name) and run webSocket(ws, req). */
export function acceptSocket(host, type, name, wire) {
  const [socket, protocol] = wire[4];
  const act = host.activation(type, name);
  const sock = new ActorWebSocket(host, socket, act, wire[1], protocol);
  (host.wsSockets ??= new Map()).set(socket, sock);
  socketsOf(act).add(sock);
  host.chan.send(["ws_accept", socket]);
  const request = () => new Request(wire[1], { method: wire[0], headers: pairsOf(wire[2]) });
  act.enqueue({
    kind: "ws", method: "webSocket", chain: [],
    handler: (instance) => {
      if (typeof instance.webSocket !== "function") throw new NoHandler(`${act.key} has no webSocket(ws, req) handler`);
      return instance.webSocket;
    },
    args: [sock, request()],
    resolve: () => {},
    reject: (err) => {
      if (sock._dead) return;
      if (err instanceof NoHandler) return sock._fail(1011, "actor has no webSocket handler");
      logError(`${act.key}.webSocket() failed; the socket is closed with 1011`, err);
      sock._fail(1011, `${err?.name ?? "Error"} in webSocket()`);
    },
  });
}

class NoHandler extends Error {}

/** Answer a routed fetchactor that carries a socket (the owner's Worker of a remote stub). */
export function onForwardedUpgrade(host, id, type, name, wire) {
  acceptSocket(host, type, name, wire);
  host.chan.send(["result", id, true, [101, [], Buffer.alloc(0)]]);
}

// -- messages from the main thread --------------------------------------------------------------

function inbound(host, socket) {
  const sock = host.wsSockets?.get(socket);
  return sock && sock.readyState !== CLOSED ? sock : null;
}

/** Handlers of wire.mjs TO_WORKER socket messages (part of host.mjs HANDLERS). */
export const WS_TO_WORKER = {
  // The fetch handler's run for an upgrade request: stub.fetch(req) finds the socket by its key.
  ws_fetch: (host, chan, id, socket, method, url, headers) => {
    let key = null;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === "sec-websocket-key") key = headers[i + 1];
    (host.wsPending ??= new Map()).set(key, socket);
    host.onFetch(id, method, url, headers, Buffer.alloc(0)).finally(() => {
      if (host.wsPending.get(key) === socket) host.wsPending.delete(key);
    });
  },
  ws_frame: (host, chan, socket, data, binary) => {
    const sock = inbound(host, socket);
    if (!sock || sock.readyState !== OPEN) return;
    const size = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
    if (sock._queued >= MAX_QUEUED_EVENTS || sock._queuedBytes + size > MAX_QUEUED_BYTES) {
      return sock._fail(1013, "the actor's inbound queue is full (256 events or 1 MiB)");
    }
    const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    enqueueEvent(sock, 'on("message")', size, () => sock._emit("message", [payload, binary]));
  },
  ws_error: (host, chan, socket, message) => {
    const sock = inbound(host, socket);
    if (sock) enqueueEvent(sock, 'on("error")', 0, () => sock._emit("error", [new Error(message)]));
  },
  // The connection closed (either side, or dropped): the close event is the socket's last turn.
  ws_close: (host, chan, socket, code, reason) => {
    const sock = inbound(host, socket);
    if (!sock) return;
    sock.readyState = CLOSED;
    host.wsSockets.delete(socket);
    sock._act.sockets?.delete(sock);
    if (sock._dead) return; // its activation was torn down: no instance is left to tell
    enqueueEvent(sock, 'on("close")', 0, () => sock._emit("close", [code, Buffer.from(reason)]));
  },
};

/** Before a Worker stops: close every socket with 1001 and let running turns finish (bounded). */
export async function stopSockets(host) {
  if (!host.wsSockets?.size) return;
  const acts = new Set();
  for (const sock of host.wsSockets.values()) {
    sock._dead = true;
    sock._fail(1001, "the function is reloading or stopping; reconnect");
    acts.add(sock._act);
  }
  host.wsSockets.clear();
  // No socket holds its activation any more, so the sweep that follows closes its database.
  for (const act of acts) act.sockets?.clear();
  const deadline = performance.now() + STOP_WAIT_MS;
  while ([...acts].some((a) => a.running) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

function pairsOf(flat) {
  const out = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}
