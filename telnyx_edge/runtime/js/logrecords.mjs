// What the runtime records while it serves, in batches: request lines, actor invocations, and user
// output (console.*), each one small array (a record). Workers batch theirs to the main thread
// (FROM_WORKER `log`), the main thread adds its request lines and sends one batch to Python
// (FROM_DATAPLANE `log`) at most every FLUSH_MS; Python prints them and keeps them in the log
// store (runtime/logstore.py). A batch costs one message however many requests it covers, which
// keeps the request log cheap under load (docs/runtime.md, "Logs").
//
// Record shapes (Python's twin: runtime/logstore.py RECORD_FIELDS):
//   ["request", ts_ms, function, method, path, status, duration_ms]
//   ["call",    ts_ms, function, type, name, method, outcome, duration_ms]   outcome "ok" or an error name
//   ["console", ts_ms, function, type, name, level, text]                   type/name "" outside an actor

export const FLUSH_MS = 50;
const MAX_BATCH = 2000; // records; a batch this long goes at once
const MAX_TEXT = 16 * 1024; // characters of one console record; the rest is cut with a note

export class LogBatch {
  /** `post(records)` sends one batch; it is called at most every FLUSH_MS, and at once when full.
   * `perTurn`: send at the end of each turn of the event loop instead (a Worker: its records then
   * travel in the same post as the answers they precede, so the main thread sees them in order). */
  constructor(post, perTurn = false) {
    this.post = post;
    this.perTurn = perTurn;
    this.records = [];
    this.timer = null;
    this.flushNow = () => this.flush();
  }

  push(record) {
    this.records.push(record);
    if (this.records.length >= MAX_BATCH) this.flush();
    else if (this.timer === null) {
      if (this.perTurn) this.timer = setImmediate(this.flushNow);
      else this.timer = setTimeout(this.flushNow, FLUSH_MS);
      this.timer.unref?.();
    }
  }

  /** Records from elsewhere (a Worker's batch), kept in order. */
  pushAll(records) {
    for (let i = 0; i < records.length; i++) this.push(records[i]);
  }

  flush() {
    if (this.timer !== null) {
      if (this.perTurn) clearImmediate(this.timer);
      else clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.records.length) return;
    const out = this.records;
    this.records = [];
    this.post(out);
  }
}

/** Cut a console text that is too long to be a line anyone reads. */
export function clip(text) {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}... (${text.length - MAX_TEXT} more characters)` : text;
}
