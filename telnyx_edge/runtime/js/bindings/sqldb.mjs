// env.NAME of a [storage.sqldb.NAME] block: the SqlDatabase API (`prepare`, `batch`, `exec`)
// on the database's SQLite file. Statements are prepared once per isolate and bound per call:
//   db.prepare("SELECT * FROM links WHERE slug = ?").bind(slug).first()
// `all()` -> { results, success, meta }, `run()` -> { results: [], success, meta: { changes,
// last_row_id, duration } }, `first(column?)` -> row | value | null, `raw()` -> row arrays;
// `batch([...])` runs every statement in one transaction (all or nothing); `exec(sql)` runs a
// script of statements without bindings -> { count, duration }.

import { bindingError } from "./errors.mjs";
import { database } from "./sqlite.mjs";

const CACHE_LIMIT = 200;

export class SqlDatabase {
  #binding;
  #file;
  #cache = new Map();

  constructor(binding, { path }) {
    this.#binding = binding;
    this.#file = path;
  }

  get db() { return database(this.#file); }

  /** A better-sqlite3 statement for `sql`, prepared once (SQL errors surface here). */
  statement(sql) {
    let stmt = this.#cache.get(sql);
    if (stmt) return stmt;
    stmt = this.guard(() => this.db.prepare(sql));
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value);
    this.#cache.set(sql, stmt);
    return stmt;
  }

  guard(fn) {
    try {
      return fn();
    } catch (err) {
      if (err instanceof TypeError || err?.name === "SqlDatabaseError") throw err;
      throw bindingError("SqlDatabaseError", `env.${this.#binding}: ${err.message}`, { cause: err });
    }
  }

  prepare(sql) {
    if (typeof sql !== "string" || !sql.trim()) throw new TypeError(`env.${this.#binding}.prepare(sql): sql must be a non-empty string`);
    return new PreparedStatement(this, sql, []);
  }

  async batch(statements) {
    if (!Array.isArray(statements) || !statements.every((s) => s instanceof PreparedStatement && s.database === this)) {
      throw new TypeError(`env.${this.#binding}.batch(statements): pass an array of statements from env.${this.#binding}.prepare()`);
    }
    return this.guard(() => this.db.transaction(() => statements.map((s) => s.execute("all")))());
  }

  async exec(sql) {
    if (typeof sql !== "string") throw new TypeError(`env.${this.#binding}.exec(sql): sql must be a string`);
    const started = performance.now();
    this.guard(() => this.db.exec(sql));
    const count = sql.split(";").filter((part) => part.trim()).length;
    return { count, duration: performance.now() - started };
  }

  toJSON() { return { sqlDatabase: this.#binding }; }
}

export class PreparedStatement {
  constructor(database, sql, params) {
    this.database = database;
    this.sql = sql;
    this.params = params;
  }

  bind(...values) {
    return new PreparedStatement(this.database, this.sql, values.map((v, i) => toSql(v, i + 1)));
  }

  /** Runs now (synchronously; better-sqlite3 is synchronous) and shapes the result. */
  execute(mode) {
    const stmt = this.database.statement(this.sql);
    const started = performance.now();
    return this.database.guard(() => {
      if (!stmt.reader) {
        const info = stmt.run(...this.params);
        const meta = { changes: info.changes, last_row_id: Number(info.lastInsertRowid), duration: performance.now() - started };
        return mode === "raw" ? [] : { results: [], success: true, meta };
      }
      if (mode === "raw") return stmt.raw(true).all(...this.params);
      const rows = stmt.raw(false).all(...this.params);
      return { results: rows, success: true, meta: { changes: 0, last_row_id: 0, duration: performance.now() - started, rows_read: rows.length } };
    });
  }

  async first(column) {
    const { results } = this.execute("all");
    const row = results[0];
    if (row === undefined) return null;
    if (column === undefined) return row;
    if (!(column in row)) throw bindingError("SqlDatabaseError", `first(${JSON.stringify(column)}): the result has no column ${JSON.stringify(column)}`);
    return row[column];
  }

  async all() { return this.execute("all"); }

  async run() { return this.execute("run"); }

  async raw(options = {}) {
    const rows = this.execute("raw");
    if (!options.columnNames) return rows;
    const stmt = this.database.statement(this.sql);
    return [stmt.reader ? stmt.columns().map((c) => c.name) : [], ...rows];
  }
}

function toSql(value, position) {
  if (value === null || typeof value === "number" || typeof value === "string" || typeof value === "bigint") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`bind(): parameter ${position} is ${value === undefined ? "undefined" : typeof value}; bind null, numbers, strings, booleans or bytes`);
}
