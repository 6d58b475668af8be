// env.NAME of a [[ratelimits]] block: `limit({ key })` -> `{ success }` (spec 2.1). Each key gets
// a window of `period` seconds, opened by its first call, that admits `limit` calls; the next
// call after the window ends opens a new one. The windows live in one SQLite file of the
// runtime, so every function (isolate) that declares a limiter of this name shares its counts.

import { bindingError } from "./errors.mjs";
import { database } from "./sqlite.mjs";

const SCHEMA = `CREATE TABLE IF NOT EXISTS windows (
  name TEXT NOT NULL, key TEXT NOT NULL, started_ms INTEGER NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (name, key)) WITHOUT ROWID`;
const MAX_KEY = 1024;

export class RateLimiter {
  #name;
  #limit;
  #periodMs;
  #file;
  #take = null;

  constructor(name, { limit, period, path }) {
    this.#name = name;
    this.#limit = limit;
    this.#periodMs = period * 1000;
    this.#file = path;
  }

  #prepare() {
    const db = database(this.#file, { create: true });
    db.exec(SCHEMA);
    const read = db.prepare("SELECT started_ms, count FROM windows WHERE name = ? AND key = ?");
    const write = db.prepare("INSERT OR REPLACE INTO windows (name, key, started_ms, count) VALUES (?, ?, ?, ?)");
    // IMMEDIATE: the read and the write are one step, also against other processes.
    return db.transaction((key, now) => {
      const row = read.get(this.#name, key);
      if (!row || now >= row.started_ms + this.#periodMs) {
        write.run(this.#name, key, now, 1);
        return true;
      }
      if (row.count >= this.#limit) return false;
      write.run(this.#name, key, row.started_ms, row.count + 1);
      return true;
    }).immediate;
  }

  async limit(options) {
    const key = options?.key;
    if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY) {
      throw new TypeError(`env.${this.#name}.limit({ key }): key must be a non-empty string of at most ${MAX_KEY} characters`);
    }
    try {
      this.#take ??= this.#prepare();
      return { success: this.#take(key, Date.now()) };
    } catch (err) {
      if (err instanceof TypeError) throw err;
      throw bindingError("RateLimiterError", `env.${this.#name}.limit(): ${err.message}`, { cause: err });
    }
  }

  toJSON() { return { limiter: this.#name }; }
}
