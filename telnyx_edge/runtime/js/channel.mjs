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

  /** A new request id and the promise its reply settles. */
  open() {
    const id = this.nextId++;
    return [id, new Promise((resolve, reject) => { this.pending.set(id, { resolve, reject }); })];
  }

  reply(id, ok, payload) {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (ok) p.resolve(payload);
    else p.reject(Array.isArray(payload) ? E.revive(payload[0], payload[1], payload[2]) : new Error(String(payload)));
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
    const [id, promise] = this.open();
    this.send([op, id, ...args]);
    return promise;
  }
}

/** The message with every byte array in it (top level, and one level down) on an ArrayBuffer of
 * its own size. Why: postMessage clones a typed array's whole ArrayBuffer, and a Buffer is often
 * a view into a larger one (Node's 8 KB pool, a socket's 64 KB read buffer): measured here, 41 us
 * to post a 20-byte view into 64 KB against 1 us for an exact copy. Mutates `msg`; returns it. */
export function fitBuffers(msg) {
  for (let i = 0; i < msg.length; i++) {
    const v = msg[i];
    if (v instanceof Uint8Array) {
      if (v.byteOffset !== 0 || v.byteLength !== v.buffer.byteLength) msg[i] = new Uint8Array(v);
    } else if (Array.isArray(v)) {
      for (let j = 0; j < v.length; j++) {
        const w = v[j];
        if (w instanceof Uint8Array && (w.byteOffset !== 0 || w.byteLength !== w.buffer.byteLength)) v[j] = new Uint8Array(w);
      }
    }
  }
  return msg;
}

/** Messages for one port, posted together once per turn of the event loop: each postMessage
 * wakes the other thread, and on a machine with fewer cores than busy threads every wake-up
 * is a context switch; under load one post carries many messages. The receiver gets an array
 * of messages (see `onBatch`). */
export class Outbox {
  constructor(post) {
    this.post = post;
    this.out = [];
    this.scheduled = false;
    this.flushNow = () => this.flush();
  }

  push(msg) {
    this.out.push(fitBuffers(msg));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  flush() {
    this.scheduled = false;
    if (!this.out.length) return;
    const out = this.out;
    this.out = [];
    this.post(out);
  }
}

/** A 'message' listener for batches posted by an Outbox. */
export function onBatch(handle) {
  return (batch) => { for (let i = 0; i < batch.length; i++) handle(batch[i]); };
}

export class PortChannel extends Requests {
  constructor(port, onMessage) {
    super();
    this.port = port;
    this.outbox = new Outbox((batch) => port.postMessage(batch));
    port.on("message", onBatch(onMessage));
  }

  send(msg) {
    this.outbox.push(msg);
  }

  flush() { this.outbox.flush(); }

  request(op, ...args) {
    const [id, promise] = this.open();
    this.send([op, id, ...args]);
    return promise;
  }
}
