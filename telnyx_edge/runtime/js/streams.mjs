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

  /** Send `res` as the answer to fetch `id` (status and headers already read by the caller). */
  async send(id, status, headers, res) {
    if (!res.body) return this.chan.send(["fetch_done", id, status, headers, Buffer.alloc(0)]);
    const reader = res.body.getReader();
    const first = await reader.read();
    if (first.done) return this.chan.send(["fetch_done", id, status, headers, Buffer.alloc(0)]);
    const reading = reader.read();
    const second = await Promise.race([reading, new Promise((resolve) => setImmediate(resolve, PENDING))]);
    if (second !== PENDING && second.done) return this.chan.send(["fetch_done", id, status, headers, bytes(first.value)]);
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

function bytes(value) {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`a response body stream must produce Uint8Array chunks, got ${typeof value}`);
}
