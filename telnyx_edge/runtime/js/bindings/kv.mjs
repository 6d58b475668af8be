// env.NAME of a [storage.kv.NAME] block: the KvNamespace API of spec 3.10 on the namespace's
// SQLite file (schema owned by telnyx_edge/account/kv.py, which creates the file before the
// isolate starts). Keys: 1-256 characters from a-z A-Z 0-9 - _ / = . (colons rejected); values:
// strings of at most 1 MiB; last write wins; a missing or expired key reads as null.

import { bindingError } from "./errors.mjs";
import { database, decodeCursor, encodeCursor } from "./sqlite.mjs";

const MAX_EXPIRY_MS = 253402300799000; // 9999-12-31T23:59:59Z: later times cannot be shown as dates

const KEY_RE = /^[A-Za-z0-9\-_/=.]{1,256}$/;
export const MAX_VALUE_BYTES = 1024 * 1024;
const MAX_LIST = 1000;

export class KvNamespace {
  #binding;
  #file;
  #q = null;

  constructor(binding, { path }) {
    this.#binding = binding;
    this.#file = path;
  }

  #queries() {
    if (this.#q) return this.#q;
    const db = database(this.#file);
    this.#q = {
      get: db.prepare("SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"),
      put: db.prepare(
        "INSERT INTO kv (key, value, expires_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET " +
        "value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at"),
      delete: db.prepare("DELETE FROM kv WHERE key = ?"),
      list: db.prepare(
        "SELECT key, length(value) AS size, updated_at, expires_at FROM kv WHERE key > ? AND substr(key, 1, ?) = ? " +
        "AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?"),
    };
    return this.#q;
  }

  #key(key, method) {
    if (typeof key !== "string" || !KEY_RE.test(key)) {
      const shown = typeof key === "string" ? JSON.stringify(key.length > 80 ? key.slice(0, 80) + "..." : key) : typeof key;
      throw bindingError("KvInvalidKeyError",
        `env.${this.#binding}.${method}(${shown}): invalid key (400): keys are 1-256 characters from a-z A-Z 0-9 - _ / = . (colons are not allowed)`);
    }
    return key;
  }

  async get(key, options) {
    this.#key(key, "get");
    const type = typeof options === "string" ? options : (options?.type ?? "text");
    if (type !== "text" && type !== "json") {
      throw new TypeError(`env.${this.#binding}.get(): type must be "text" or "json", not ${JSON.stringify(type)}`);
    }
    const row = this.#queries().get.get(key, Date.now());
    if (!row) return null;
    const text = Buffer.from(row.value).toString("utf8");
    if (type === "text") return text;
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new SyntaxError(`env.${this.#binding}.get(${JSON.stringify(key)}, { type: "json" }): the stored value is not JSON (${err.message})`);
    }
  }

  async put(key, value, options = {}) {
    this.#key(key, "put");
    if (typeof value !== "string") {
      throw new TypeError(`env.${this.#binding}.put(${JSON.stringify(key)}, value): value must be a string (use JSON.stringify for objects), not ${value === null ? "null" : typeof value}`);
    }
    const bytes = Buffer.from(value, "utf8");
    if (bytes.length > MAX_VALUE_BYTES) {
      throw bindingError("KvValueTooLargeError",
        `env.${this.#binding}.put(${JSON.stringify(key)}): value is ${bytes.length} bytes; the limit is ${MAX_VALUE_BYTES} bytes (1 MiB) (413)`);
    }
    const now = Date.now();
    let expires = null;
    if (options?.expirationTtl !== undefined) {
      const ttl = options.expirationTtl;
      if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0) {
        throw new TypeError(`env.${this.#binding}.put(): expirationTtl must be a positive number of seconds`);
      }
      expires = now + Math.round(ttl * 1000);
      if (expires > MAX_EXPIRY_MS) throw new RangeError(`env.${this.#binding}.put(): expirationTtl reaches past the year 9999`);
    } else if (options?.expiration !== undefined) {
      const at = options.expiration;
      if (typeof at !== "number" || !Number.isFinite(at) || at * 1000 <= now) {
        throw new TypeError(`env.${this.#binding}.put(): expiration must be a time in the future, in seconds since the epoch`);
      }
      expires = Math.round(at * 1000);
      if (expires > MAX_EXPIRY_MS) throw new RangeError(`env.${this.#binding}.put(): expiration is past the year 9999`);
    }
    this.#queries().put.run(key, bytes, expires, now);
  }

  /** Deleting a key that is not there is not an error. */
  async delete(key) {
    this.#key(key, "delete");
    this.#queries().delete.run(key);
  }

  async list(options = {}) {
    const prefix = options?.prefix ?? "";
    if (typeof prefix !== "string") throw new TypeError(`env.${this.#binding}.list(): prefix must be a string`);
    const limit = options?.limit ?? MAX_LIST;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST) {
      throw new TypeError(`env.${this.#binding}.list(): limit must be a whole number from 1 to ${MAX_LIST}`);
    }
    const after = options?.cursor ? decodeCursor(options.cursor, `env.${this.#binding}.list()`) : "";
    const rows = this.#queries().list.all(after, prefix.length, prefix, Date.now(), limit + 1);
    const page = rows.slice(0, limit);
    const keys = page.map((r) => {
      const entry = { name: r.key, sizeBytes: r.size, updatedAt: new Date(r.updated_at).toISOString() };
      if (r.expires_at !== null) entry.expiration = Math.floor(r.expires_at / 1000);
      return entry;
    });
    const complete = rows.length <= limit;
    return { keys, list_complete: complete, cursor: complete ? undefined : encodeCursor(page[page.length - 1].key) };
  }

  toJSON() { return { kvNamespace: this.#binding }; }
}
