// Where the Agent SDK keeps things: the actor's own key-value storage, under `agent:` keys.
//
//   agent:state                      the state value (one entry, written whole)
//   agent:msgs                       the message count (= seq of the last message)
//   agent:msg:<seq, 12 digits>       one message row { role, content, name?, toolCalls?, toolCallId?, at }
//   agent:task:<id>                  one pending task (a TaskRecord plus its creation `order`)
//   agent:due:<due ms, 16 digits>:<order, 12 digits>   -> id; the due-time index the alarm follows
//   agent:tasks                      the last task `order` handed out (creation order)
//
// The platform keeps these in SQL tables; here they are KV entries until actor SQL lands.
// `agent:` is a legal user prefix (docs/agents.md says not to write it from an agent).

export const STATE = "agent:state";
export const MSG_COUNT = "agent:msgs";
export const MSG = "agent:msg:";
export const TASK = "agent:task:";
export const DUE = "agent:due:";
export const TASK_ORDER = "agent:tasks";

const PAGE = 1000; // ctx.storage.list() returns at most 1000 entries per call

export const pad = (n, width) => String(n).padStart(width, "0");
export const dueKey = (due, order) => `${DUE}${pad(due, 16)}:${pad(order, 12)}`;
export const msgKey = (seq) => `${MSG}${pad(seq, 12)}`;
export const dueOfKey = (key) => Number(key.slice(DUE.length, DUE.length + 16));
export const orderOfKey = (key) => Number(key.slice(DUE.length + 17));

/** Every entry list() gives for `options` (a prefix, bounds, reverse, an overall limit), page by page. */
export async function* scan(storage, options) {
  let cursor;
  let remaining = options.limit ?? Infinity;
  while (remaining > 0) {
    const page = await storage.list({
      ...options,
      limit: Math.min(PAGE, remaining),
      ...(cursor === undefined ? {} : options.reverse ? { end: cursor } : { startAfter: cursor }),
    });
    for (const [k, v] of page) { cursor = k; remaining--; yield [k, v]; }
    if (page.size < PAGE) return;
  }
}

/** A JSON-like object (what merge patch merges into), not an array, Date, Map or class instance. */
export function isPlainObject(v) {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** User data on one terminal line, without control characters. */
export function clean(text) {
  return String(text).replace(/[\u0000-\u001f\u007f]/g, (c) => (c === "\n" ? " | " : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}
