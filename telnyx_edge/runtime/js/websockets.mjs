// WebSockets, main-thread side (spec 3.9): the handshake, and the relay between a client's socket
// and the Worker that hosts the actor owning it.
//
// An upgrade request is validated here (a malformed handshake is a 400 before user code runs),
// then runs the function's fetch handler like any request, as `ws_fetch` so the Worker knows
// which socket it is about. The handler forwards it to an actor through a stub; the Worker
// hosting that actor's activation takes the socket (`ws_accept`, always before the handler's
// answer reaches this thread) and the handler's answer is the actor's 101. Only then is the
// handshake completed (ws, noServer mode), and frames flow: client -> `ws_frame` -> that
// Worker; `ws_send`/`ws_broadcast`/`ws_close` -> client. Anything else the handler answers is
// written as a plain HTTP response and the socket is closed.
//
// Invariants: a socket is relayed to the one Worker that accepted it and to no other (a new
// Worker on that slot never sees it); every accepted socket ends with exactly one `ws_close`
// to that Worker while it lives (unless the Worker itself is gone); the connection lives at
// most `ws_lifetime_ms` (closed abnormally, 1006), and a Worker that exits closes its sockets
// with 1001; at most MAX_UNSENT_BYTES wait to be written to a client (beyond: dropped, 1006).

import http from "node:http";
import { requirePackage } from "./packages.mjs";
import { BadHost, requestAuthority, requestUrl } from "./authority.mjs";
import { statusFor } from "./errors.mjs";

export const MAX_FRAME_BYTES = 1024 * 1024; // larger frames close the socket with 1009 (spec 3.9)
// A client that does not read: frames waiting to be written beyond this drop the connection (1006),
// so one slow member of a busy room cannot grow this process without bound.
export const MAX_UNSENT_BYTES = 16 * 1024 * 1024;
const KEY_RE = /^[A-Za-z0-9+/]{22}==$/; // 16 random bytes, base64 (RFC 6455 4.1)
const TEXT = "text/plain; charset=utf-8";
const EMPTY = Buffer.alloc(0);

let server = null;

/** The ws server in noServer mode: it completes handshakes we accepted, nothing else. */
function wsServer() {
  if (!server) {
    const { WebSocketServer } = requirePackage("ws");
    server = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
  }
  return server;
}

/** One client socket, from the upgrade request to its close. */
class Entry {
  constructor(id, key) {
    this.id = id;
    this.key = key;
    this.slot = null; // the slot whose Worker accepted it (ws_accept)
    this.worker = null; // that Worker; if the slot gets a new one, this socket is not its
    this.ws = null; // once the handshake is complete
    this.out = []; // frames the actor sent before the handshake completed
    this.closeAfterOpen = null; // [code, reason] the actor closed with before it completed
    this.done = false; // closed; the Worker was told (or is gone)
    this.timer = null;
  }

  /** Send to the accepting Worker, if it is still the one on its slot. */
  toWorker(msg) {
    if (this.slot && this.slot.worker === this.worker && this.slot.live) this.slot.send(msg);
  }
}

class Sockets {
  constructor() {
    this.byId = new Map();
    this.keys = new Set(); // Sec-WebSocket-Key of handshakes in progress (each names one socket to its Worker)
    this.nextId = 1;
  }

  /** The client's socket closed (or never opened): tell the accepting Worker, once. */
  finish(entry, code, reason) {
    if (entry.done) return;
    entry.done = true;
    clearTimeout(entry.timer);
    this.byId.delete(entry.id);
    this.keys.delete(entry.key);
    entry.toWorker(["ws_close", entry.id, code, reason]);
  }

  /** A Worker exited (reload, stop, crash, replacement): its sockets close with 1001. */
  slotGone(slot, worker) {
    for (const entry of [...this.byId.values()]) {
      if (entry.slot !== slot || entry.worker !== worker) continue;
      entry.done = true;
      this.byId.delete(entry.id);
      clearTimeout(entry.timer);
      if (entry.ws) entry.ws.close(1001, "the actor's isolate was stopped or replaced");
      else entry.closeAfterOpen = [1001, "the actor's isolate was stopped or replaced"];
    }
  }
}

export const sockets = new Sockets();

/** Node's `upgrade` event of the HTTP server: validate, run the fetch handler, complete or refuse. */
export async function onUpgrade(ingress, req, socket, head) {
  socket.on("error", () => {}); // a client that vanishes mid-handshake is not the runtime's error
  let authority;
  try {
    authority = requestAuthority(req.rawHeaders, req.httpVersion);
  } catch (err) {
    if (!(err instanceof BadHost)) throw err;
    return refuse(socket, 400, err.message);
  }
  const problem = handshakeProblem(req);
  if (problem) return refuse(socket, 400, problem);
  const key = req.headers["sec-websocket-key"];
  if (sockets.keys.has(key)) return refuse(socket, 400, "this Sec-WebSocket-Key is already in use by a handshake in progress");
  if (ingress.closing) return refuse(socket, 503, "the runtime is stopping");
  const entry = new Entry(sockets.nextId++, key);
  sockets.byId.set(entry.id, entry);
  sockets.keys.add(key);
  // Gone before the handshake completed: the actor hears 1006 (ws reports closes after it).
  socket.once("close", () => { if (!entry.ws) sockets.finish(entry, 1006, ""); });
  const headers = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.push(raw[i].toLowerCase(), raw[i + 1]);
  const url = requestUrl(authority, req.url);
  const router = ingress.router;
  try {
    const fn = router.functionForHost(authority.name);
    if (fn === null) throw router.noFunction(authority.name);
    const group = router.groupNow(fn) ?? await router.groupOf(fn);
    const slot = group.fetchSlot();
    if (!slot.live) await router.slotUp(slot);
    slot.request("ws_fetch", upgradeSink(entry, req, socket, head), entry.id, req.method, url, headers);
  } catch (err) {
    const name = err.errorName ?? err.name ?? "Error";
    respond(entry, socket, statusFor(name), ["content-type", TEXT], Buffer.from(`${name}: ${err.message}\n`));
  }
}

/** Why `req` is not a WebSocket handshake we can complete (RFC 6455 4.2.1), or null. */
export function handshakeProblem(req) {
  if (req.method !== "GET") return `a WebSocket handshake must be a GET, not ${req.method}`;
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) return "a WebSocket handshake needs HTTP/1.1";
  if (String(req.headers.upgrade).toLowerCase() !== "websocket") return "only WebSocket upgrades are supported (Upgrade: websocket)";
  const connection = String(req.headers.connection ?? "").toLowerCase().split(",").map((t) => t.trim());
  if (!connection.includes("upgrade")) return "a WebSocket handshake needs Connection: Upgrade";
  const key = req.headers["sec-websocket-key"];
  if (typeof key !== "string" || !KEY_RE.test(key.trim())) return "Sec-WebSocket-Key must be 16 bytes in base64";
  if (req.headers["sec-websocket-version"] !== "13") return "Sec-WebSocket-Version must be 13";
  return null;
}

/** The sink of the fetch handler's answer: the actor's 101 completes the handshake. */
function upgradeSink(entry, req, socket, head) {
  let status = 0;
  let outHeaders = [];
  const chunks = [];
  let ctl = null;
  return {
    done(st, hdrs, body) {
      if (st === 101 && entry.slot) return complete(entry, req, socket, head);
      respond(entry, socket, st, hdrs, body);
    },
    // A streamed answer (a 426 with a streamed body, say): gathered, then written whole.
    head(st, hdrs, control) { status = st; outHeaders = hdrs; ctl = control; },
    chunk(data) { chunks.push(data); ctl.ack(data.length); },
    end() { respond(entry, socket, status, outHeaders, Buffer.concat(chunks)); },
    fail(name, message) {
      const st = statusFor(name);
      respond(entry, socket, st, ["content-type", TEXT], Buffer.from(`${name}: ${message}\n`));
    },
  };
}

function complete(entry, req, socket, head) {
  sockets.keys.delete(entry.key);
  if (socket.destroyed) return sockets.finish(entry, 1006, "");
  if (entry.done) return refuse(socket, 503, "the actor's isolate was stopped or replaced during the handshake");
  wsServer().handleUpgrade(req, socket, head, (ws) => {
    entry.ws = ws;
    ws.on("message", (data, isBinary) => {
      entry.slot.framedAt = performance.now(); // the watchdog probes a Worker that has frames to handle
      entry.toWorker(["ws_frame", entry.id, data, isBinary]);
    });
    ws.on("error", (err) => entry.toWorker(["ws_error", entry.id, err.message]));
    ws.on("close", (code, reason) => sockets.finish(entry, code, reason.toString()));
    const lifetime = entry.slot.group.config.ws_lifetime_ms ?? 300_000;
    // The platform's connection limit: dropped without a close frame, so both ends see 1006.
    entry.timer = setTimeout(() => ws.terminate(), lifetime);
    entry.timer.unref();
    for (const [data, binary] of entry.out.splice(0)) ws.send(data, { binary });
    if (entry.closeAfterOpen) closeWs(ws, ...entry.closeAfterOpen);
  });
}

/** Anything but the actor's 101: a plain HTTP response, then the connection closes. */
function respond(entry, socket, status, flat, body) {
  sockets.keys.delete(entry.key);
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? "Unknown"}`];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i].toLowerCase();
    if (name !== "content-length" && name !== "transfer-encoding" && name !== "connection" && name !== "upgrade") lines.push(`${name}: ${flat[i + 1]}`);
  }
  lines.push(`content-length: ${body.length}`, "connection: close", "", "");
  if (socket.writable) socket.end(Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), body]));
  else socket.destroy();
  // An actor that took the socket (the handler then answered something else) hears 1006.
  sockets.finish(entry, 1006, "");
}

function refuse(socket, status, message) {
  respond({ key: null, id: 0, done: true }, socket, status, ["content-type", TEXT], Buffer.from(`${status} ${http.STATUS_CODES[status]}: ${message}\n`));
}

/** Handlers of the Worker's messages about sockets (part of group.mjs FROM_WORKER_HANDLERS). */
export const WS_FROM_WORKER = {
  ws_accept: (slot, socket) => {
    const entry = sockets.byId.get(socket);
    if (!entry || entry.done) return slot.send(["ws_close", socket, 1006, ""]);
    entry.slot = slot;
    entry.worker = slot.worker;
  },
  ws_send: (slot, socket, data, binary) => {
    const entry = sockets.byId.get(socket);
    if (!entry || entry.slot !== slot) return;
    if (!entry.ws) return entry.out.push([data, binary]);
    entry.ws.send(data, { binary });
    if (entry.ws.bufferedAmount > MAX_UNSENT_BYTES) entry.ws.terminate();
  },
  ws_broadcast: (slot, sockets, data, binary) => {
    for (const id of sockets) WS_FROM_WORKER.ws_send(slot, id, data, binary);
  },
  ws_close: (slot, socket, code, reason) => {
    const entry = sockets.byId.get(socket);
    if (!entry || entry.slot !== slot) return;
    if (entry.ws) closeWs(entry.ws, code, reason);
    else entry.closeAfterOpen = [code, reason];
  },
};

/** 1006 is never sent in a close frame: the connection is dropped, and the client sees 1006. */
function closeWs(ws, code, reason) {
  if (code === 1006) return ws.terminate();
  try {
    ws.close(code, reason);
  } catch {
    ws.close(1011, ""); // a code or reason ws refuses (the Worker checks them first)
  }
}

export { EMPTY };
