// The two kinds of channel the data plane speaks, with one interface (send, request, reply):
//
// - SocketChannel: the control channel to Python, length-prefixed MessagePack frames on an
//   inherited Unix socket (protocol.py is the Python end).
// - PortChannel: between the data plane's main thread and one Worker, structured-clone messages
//   on a MessagePort (no encoding: the same arrays, copied by V8).
//
// Messages are arrays [op, ...fields] (wire.mjs). `request` sends [op, id, ...args] and resolves
// with the payload of the ["reply", id, ok, payload] the other side answers with.

import { encodeFrame, FrameReader } from "./msgpack.mjs";
import * as E from "./errors.mjs";

class Requests {
  constructor() {
    this.nextId = 1;
    this.pending = new Map();
  }

  request(op, args) {
    const id = this.nextId++;
    return [id, new Promise((resolve, reject) => { this.pending.set(id, { resolve, reject }); })];
  }

  reply(id, ok, payload) {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (ok) p.resolve(payload);
    else p.reject(Array.isArray(payload) ? E.revive(payload[0], payload[1]) : new Error(String(payload)));
  }
}

export class SocketChannel extends Requests {
  constructor(socket, onMessage) {
    super();
    this.socket = socket;
    this.out = [];
    this.flushScheduled = false;
    const reader = new FrameReader(onMessage);
    socket.on("data", (chunk) => reader.push(chunk));
  }

  send(msg) {
    this.out.push(encodeFrame(msg));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush() {
    this.flushScheduled = false;
    const out = this.out;
    this.out = [];
    if (out.length) this.socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
  }

  request(op, ...args) {
    const [id, promise] = super.request(op, args);
    this.send([op, id, ...args]);
    return promise;
  }
}

export class PortChannel extends Requests {
  constructor(port, onMessage) {
    super();
    this.port = port;
    this.out = [];
    port.on("message", onMessage);
  }

  send(msg) {
    this.port.postMessage(msg);
  }

  flush() {}

  request(op, ...args) {
    const [id, promise] = super.request(op, args);
    this.send([op, id, ...args]);
    return promise;
  }
}
