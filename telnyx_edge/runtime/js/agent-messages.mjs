// `this.messages`: an agent's append-only conversation log and its model-API adapters
// (agent-sdk-spec.md §3). Rows live under `agent:msg:` keys (agent-storage.mjs).

import { MSG, MSG_COUNT, msgKey, scan, isPlainObject } from "./agent-storage.mjs";

const ROLES = new Set(["system", "user", "assistant", "tool"]);

function toStored(key, row) {
  const msg = { role: row.role, content: row.content };
  if (row.name !== undefined) msg.name = row.name;
  if (row.toolCalls !== undefined) msg.toolCalls = row.toolCalls;
  if (row.toolCallId !== undefined) msg.toolCallId = row.toolCallId;
  msg.seq = Number(key.slice(MSG.length));
  msg.at = row.at;
  return msg;
}

function checkMessage(msg, where) {
  if (!isPlainObject(msg)) throw new TypeError(`${where} takes a message object { role, content }`);
  if (!ROLES.has(msg.role)) throw new TypeError(`${where}: role must be "system", "user", "assistant" or "tool", got ${JSON.stringify(msg.role)}`);
  if (typeof msg.content !== "string") throw new TypeError(`${where}: content must be a string, got ${typeof msg.content}`);
  if (msg.name !== undefined && typeof msg.name !== "string") throw new TypeError(`${where}: name must be a string`);
  if (msg.toolCallId !== undefined && typeof msg.toolCallId !== "string") throw new TypeError(`${where}: toolCallId must be a string`);
  if (msg.toolCalls !== undefined) {
    if (!Array.isArray(msg.toolCalls)) throw new TypeError(`${where}: toolCalls must be an array of { id, name, args }`);
    for (const call of msg.toolCalls) {
      if (!isPlainObject(call) || typeof call.id !== "string" || typeof call.name !== "string") {
        throw new TypeError(`${where}: each tool call needs a string id and name`);
      }
    }
  }
  const row = { role: msg.role, content: msg.content, at: new Date() };
  if (msg.name !== undefined) row.name = msg.name;
  if (msg.toolCalls !== undefined) row.toolCalls = msg.toolCalls.map((c) => ({ id: c.id, name: c.name, args: c.args }));
  if (msg.toolCallId !== undefined) row.toolCallId = msg.toolCallId;
  return row;
}

/** `this.messages`: the append-only conversation log of one agent instance (spec §3). */
export class MessageLog {
  #storage;

  constructor(storage) { this.#storage = storage; }

  /** Append `{ role, content }`; resolves to its seq (1, 2, 3, ...). */
  add(role, content) {
    return this.append({ role, content });
  }

  /** Append one message; the row and the count commit together with the turn. */
  async append(msg) {
    const row = checkMessage(msg, "messages.append()");
    const seq = (await this.count()) + 1;
    await this.#storage.put(msgKey(seq), row); // a CodecError here has written nothing
    await this.#storage.put(MSG_COUNT, seq);
    return seq;
  }

  /** Append several messages, all or none; resolves to the last seq (the count when empty). */
  async appendMany(msgs) {
    if (!Array.isArray(msgs)) throw new TypeError("messages.appendMany() takes an array of messages");
    const rows = msgs.map((m, i) => checkMessage(m, `messages.appendMany() item ${i}`));
    const first = (await this.count()) + 1;
    let written = 0;
    try {
      for (; written < rows.length; written++) await this.#storage.put(msgKey(first + written), rows[written]);
    } catch (err) {
      // Undo the rows already buffered: the batch is all or nothing, and the turn may go on.
      for (let i = 0; i < written; i++) await this.#storage.delete(msgKey(first + i));
      throw err;
    }
    if (rows.length) await this.#storage.put(MSG_COUNT, first + rows.length - 1);
    return first + rows.length - 1;
  }

  /** The whole log, oldest first. */
  async all() {
    const out = [];
    for await (const [k, row] of scan(this.#storage, { prefix: MSG })) out.push(toStored(k, row));
    return out;
  }

  /** last(): the newest message or undefined; last(n): the newest n, oldest first. */
  async last(n) {
    if (n === undefined) {
      // Two point reads (the count, then its row), not a range read: tasks check this often.
      const seq = await this.count();
      if (seq === 0) return undefined;
      const row = await this.#storage.get(msgKey(seq));
      return row === undefined ? undefined : toStored(msgKey(seq), row);
    }
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`messages.last(n) takes a whole number >= 0, got ${n}`);
    if (n === 0) return [];
    const out = [];
    for await (const [k, row] of scan(this.#storage, { prefix: MSG, reverse: true, limit: n })) out.push(toStored(k, row));
    return out.reverse();
  }

  /** How many messages the log holds (= the seq of the last one). */
  async count() {
    return (await this.#storage.get(MSG_COUNT)) ?? 0;
  }

  /** OpenAI Chat Completions `messages` (system included; tool calls and results mapped). */
  async toOpenAI() {
    return (await this.all()).map((m) => {
      if (m.role === "tool") {
        const out = { role: "tool", content: m.content, tool_call_id: m.toolCallId ?? "" };
        if (m.name !== undefined) out.name = m.name;
        return out;
      }
      const out = { role: m.role, content: m.content };
      if (m.name !== undefined) out.name = m.name;
      if (m.role === "assistant" && m.toolCalls?.length) {
        out.tool_calls = m.toolCalls.map((c) => ({
          id: c.id, type: "function",
          function: { name: c.name, arguments: typeof c.args === "string" ? c.args : JSON.stringify(c.args ?? {}) },
        }));
      }
      return out;
    });
  }

  /** Anthropic Messages `messages`: no system turns; tool calls as tool_use, results as tool_result. */
  async toAnthropic() {
    const out = [];
    for (const m of await this.all()) {
      if (m.role === "system") continue;
      if (m.role === "tool") {
        const block = { type: "tool_result", tool_use_id: m.toolCallId ?? "", content: m.content };
        const prev = out[out.length - 1];
        // Consecutive results answer one assistant turn: they share one user turn.
        if (prev?.role === "user" && Array.isArray(prev.content) && prev.content.every((b) => b.type === "tool_result")) prev.content.push(block);
        else out.push({ role: "user", content: [block] });
      } else if (m.role === "assistant" && m.toolCalls?.length) {
        const blocks = m.content ? [{ type: "text", text: m.content }] : [];
        for (const c of m.toolCalls) blocks.push({ type: "tool_use", id: c.id, name: c.name, input: c.args ?? {} });
        out.push({ role: "assistant", content: blocks });
      } else {
        out.push({ role: m.role, content: m.content });
      }
    }
    return out;
  }

  /** Plain `{ role, content }` objects (tool-call details dropped), as LangGraph accepts them. */
  async toLangChain() {
    return (await this.all()).map((m) => ({ role: m.role, content: m.content }));
  }
}
