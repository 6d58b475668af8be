// Response bodies on the wire: whole when they are whole, streamed when they are streams.
//
// A body that is complete at once (a string, a buffer, JSON: its stream is done by the next
// macrotask) goes out as one `fetch_done` frame, the fast path. Anything else is streamed:
// `fetch_head`, then a `fetch_chunk` per chunk as the body produces it, then `fetch_end`.
// Backpressure: at most WINDOW_BYTES may be sent and not yet acknowledged; Python acknowledges
// a chunk (`fetch_ack`) once the HTTP connection has taken it, so a slow client slows the
// producer. `fetch_cancel` (the client went away, or a reload/stop ended the drain) cancels
// the body's reader, which also cancels the user's ReadableStream.

const WINDOW_BYTES = 256 * 1024;
const PENDING = Symbol("pending");

export class ResponseStreams {
  constructor(chan, logError) {
    this.chan = chan;
    this.logError = logError;
    this.open = new Map(); // id -> { reader, credit, wake, cancelled }
  }

  /** Send `res` as the answer to request `id` (status and headers already read by the caller).
   * `whole(body)` sends a complete body the way the request expects (default: `fetch_done`). */
  async send(id, status, headers, res, whole = (body) => this.chan.send(["fetch_done", id, status, headers, body])) {
    if (!res.body) return whole(Buffer.alloc(0));
    const reader = res.body.getReader();
    const first = await reader.read();
    if (first.done) return whole(Buffer.alloc(0));
    const reading = reader.read();
    const second = await Promise.race([reading, new Promise((resolve) => setImmediate(resolve, PENDING))]);
    if (second !== PENDING && second.done) return whole(bytes(first.value));
    this.chan.send(["fetch_head", id, status, headers]);
    const st = { reader, credit: WINDOW_BYTES, wake: null, cancelled: false };
    this.open.set(id, st);
    let error = null;
    try {
      await this.push(id, st, first.value);
      let next = reading;
      while (!st.cancelled) {
        const { done, value } = await next;
        if (done || st.cancelled) break;
        await this.push(id, st, value);
        next = reader.read();
      }
    } catch (err) {
      this.logError(`streaming the response body of fetch ${id} failed`, err);
      error = `${err?.name ?? "Error"}: ${err?.message ?? err}`;
    } finally {
      this.open.delete(id);
    }
    if (st.cancelled) return;
    this.chan.send(["fetch_end", id, error]);
  }

  async push(id, st, value) {
    const chunk = bytes(value);
    while (st.credit <= 0 && !st.cancelled) await new Promise((resolve) => { st.wake = resolve; });
    if (st.cancelled || !chunk.length) return;
    st.credit -= chunk.length;
    this.chan.send(["fetch_chunk", id, chunk]);
  }

  ack(id, count) {
    const st = this.open.get(id);
    if (!st) return;
    st.credit += count;
    st.wake?.();
  }

  cancel(id) {
    const st = this.open.get(id);
    if (!st) return;
    st.cancelled = true;
    st.wake?.();
    st.reader.cancel().catch(() => {});
  }
}

/** Bodies of responses that another isolate streams to this one through Python (a stub's
 * fetch() of an actor another function owns): `body_chunk`s in, `body_ack`s out as the caller
 * reads, `body_cancel` if the caller stops reading. */
export class IncomingBodies {
  constructor(chan) {
    this.chan = chan;
    this.open = new Map(); // request id -> { ctl, enqueued, acked }
  }

  /** A stream for the body of request `id`, ready before the request is sent (chunks may follow its reply at once). */
  expect(id) {
    const entry = { ctl: null, enqueued: 0, acked: 0 };
    const stream = new ReadableStream({
      start: (ctl) => { entry.ctl = ctl; },
      pull: () => {
        // The queue is empty when pull runs (high-water mark 0): everything enqueued was read.
        if (entry.enqueued > entry.acked) {
          this.chan.send(["body_ack", id, entry.enqueued - entry.acked]);
          entry.acked = entry.enqueued;
        }
      },
      cancel: () => {
        if (this.open.delete(id)) this.chan.send(["body_cancel", id]);
      },
    }, { highWaterMark: 0 });
    this.open.set(id, entry);
    return stream;
  }

  drop(id) { this.open.delete(id); }

  chunk(id, data) {
    const entry = this.open.get(id);
    if (!entry) return;
    entry.enqueued += data.length;
    entry.ctl.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  end(id, error) {
    const entry = this.open.get(id);
    if (!entry) return;
    this.open.delete(id);
    if (error) entry.ctl.error(new Error(error));
    else entry.ctl.close();
  }
}

function bytes(value) {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`a response body stream must produce Uint8Array chunks, got ${typeof value}`);
}
