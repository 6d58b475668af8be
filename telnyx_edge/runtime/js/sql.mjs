// ctx.storage.sql: the actor's own SQLite database, synchronous (spec 3.6).
//
// Every statement runs inside the running turn's savepoint, so it commits with the turn's KV
// writes and alarm at end of turn, and vanishes if the turn throws. Rules from spec 3.6:
// positional `?` binds; INTEGER/REAL -> number, TEXT -> string, BLOB -> ArrayBuffer, NULL ->
// null; single-pass cursors; multi-statement strings run in order with the binds applied to
// the last statement, whose rows the cursor holds; raw transaction control is refused; 2 MiB
// per bound value; 32,766 bound values; integers beyond 2^53-1 throw RangeError on read.

import {
  SqlError, SqlTransactionControlError, SqlParameterTooLargeError, SqlAsyncTransactionError,
} from "./errors.mjs";

const MAX_PARAM_BYTES = 2 * 1024 * 1024;
const MAX_PARAMS = 32766;
const RESERVED_RE = /__telnyx_/i;
const CONTROL = new Set(["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"]);
const REFUSED = new Set(["ATTACH", "DETACH", "VACUUM"]);
// Pragmas that read or check; the rest could change durability, locking or the schema's safety.
const PRAGMAS = new Set([
  "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
  "foreign_key_list", "foreign_key_check", "quick_check", "integrity_check", "page_count",
  "page_size", "freelist_count", "function_list", "pragma_list", "collation_list", "database_list",
]);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Split a SQL string into statements (quotes, identifiers, comments and trigger bodies kept whole). */
export function splitStatements(sql) {
  const out = [];
  let start = 0;
  let depth = 0; // BEGIN/CASE ... END nesting, counted only inside CREATE TRIGGER
  let trigger = null; // decided at the first words of each statement
  let words = [];
  const n = sql.length;
  for (let i = 0; i < n;) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === "`") {
      const j = sql.indexOf(c, i + 1);
      i = j === -1 ? n : j + 1;
      while (i < n && sql[i] === c) { const k = sql.indexOf(c, i + 1); i = k === -1 ? n : k + 1; }
    } else if (c === "[") {
      const j = sql.indexOf("]", i + 1);
      i = j === -1 ? n : j + 1;
    } else if (c === "-" && sql[i + 1] === "-") {
      const j = sql.indexOf("\n", i);
      i = j === -1 ? n : j + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const j = sql.indexOf("*/", i + 2);
      i = j === -1 ? n : j + 2;
    } else if (c === ";") {
      if (depth === 0) {
        out.push(sql.slice(start, i + 1));
        start = i + 1;
        trigger = null;
        words = [];
      }
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(sql[j])) j++;
      const word = sql.slice(i, j).toUpperCase();
      if (trigger === null) {
        words.push(word);
        if (words[0] !== "CREATE") trigger = false;
        else if (words.length === 2) trigger = word === "TRIGGER" ? true : (word === "TEMP" || word === "TEMPORARY") ? null : false;
        else if (words.length === 3) trigger = word === "TRIGGER";
      }
      if (trigger) {
        if (word === "BEGIN" || word === "CASE") depth++;
        else if (word === "END" && depth > 0) depth--;
      }
      i = j;
    } else {
      i++;
    }
  }
  if (sql.slice(start).trim()) out.push(sql.slice(start));
  return out.filter((s) => firstWord(s) !== "");
}

function firstWord(stmt) {
  const m = stmt.replace(/^(\s+|--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*/, "").match(/^[A-Za-z_]+/);
  return m ? m[0].toUpperCase() : (stmt.replace(/^(\s+|--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*/, "").replace(/;\s*$/, "").trim() ? "?" : "");
}

function toParam(v, i) {
  if (v === null || typeof v === "number" || typeof v === "bigint") return v;
  if (typeof v === "string") {
    if (v.length * 3 > MAX_PARAM_BYTES && Buffer.byteLength(v) > MAX_PARAM_BYTES) {
      throw new SqlParameterTooLargeError(`bound value ${i + 1} is ${Buffer.byteLength(v)} bytes; the limit is 2 MiB`);
    }
    return v;
  }
  let buf = null;
  if (v instanceof ArrayBuffer) buf = Buffer.from(v);
  else if (ArrayBuffer.isView(v)) buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (buf) {
    if (buf.length > MAX_PARAM_BYTES) throw new SqlParameterTooLargeError(`bound value ${i + 1} is ${buf.length} bytes; the limit is 2 MiB`);
    return buf;
  }
  const what = v === undefined ? "undefined" : typeof v === "boolean" ? "a boolean" : typeof v === "object" ? "an object" : typeof v;
  throw new TypeError(`bound value ${i + 1} is ${what}; SQL values are null, number, string or ArrayBuffer`);
}

function fromColumn(v) {
  if (typeof v === "bigint") {
    if (v > MAX_SAFE || v < -MAX_SAFE) throw new RangeError(`the integer ${v} read from SQL is beyond 2^53-1 and cannot be a JavaScript number exactly`);
    return Number(v);
  }
  if (v instanceof Uint8Array) return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength);
  return v;
}

export class SqlCursor {
  constructor(columnNames, rows, rowsWritten) {
    this.columnNames = columnNames;
    this.rows = rows;
    this.pos = 0;
    this.rowsRead = rows.length;
    this.rowsWritten = rowsWritten;
  }

  next() {
    if (this.pos >= this.rows.length) return { done: true, value: undefined };
    return { done: false, value: this.row(this.rows[this.pos++]) };
  }

  [Symbol.iterator]() { return this; }

  row(raw) {
    const obj = {};
    for (let i = 0; i < raw.length; i++) obj[this.columnNames[i]] = fromColumn(raw[i]);
    return obj;
  }

  /** The rows not yet read (single-pass: after a full iteration this is []). */
  toArray() {
    const out = [];
    while (this.pos < this.rows.length) out.push(this.row(this.rows[this.pos++]));
    return out;
  }

  /** Exactly one row left, or an error. */
  one() {
    const rest = this.toArray();
    if (rest.length !== 1) throw new SqlError(`expected exactly one row, got ${rest.length}`);
    return rest[0];
  }

  /** The rows not yet read, as arrays of column values. */
  raw() {
    const out = [];
    while (this.pos < this.rows.length) out.push(this.rows[this.pos++].map(fromColumn));
    return out;
  }
}

export class SqlStorage {
  /** `turnDb()` returns the running turn's ActorDatabase or throws outside a turn. */
  constructor(turnDb) {
    this.turnDb = turnDb;
    this.cache = new Map();
    this.changesStmt = null;
  }

  prepare(db, text) {
    let stmt = this.cache.get(text);
    if (!stmt || stmt.database !== db.db) {
      stmt = db.db.prepare(text);
      if (stmt.reader) { stmt.raw(true); stmt.safeIntegers(true); }
      if (this.cache.size > 200) this.cache.clear();
      this.cache.set(text, stmt);
    }
    return stmt;
  }

  /** Rows changed by the last statement, for writes that return rows (run() reports its own). */
  changes(db) {
    if (this.changesStmt?.database !== db.db) this.changesStmt = db.db.prepare("SELECT changes()").pluck();
    return this.changesStmt.get();
  }

  exec(query, ...bindings) {
    const db = this.turnDb();
    if (typeof query !== "string") throw new TypeError("sql.exec(query, ...bindings) takes the query as a string");
    if (bindings.length > MAX_PARAMS) throw new SqlError(`${bindings.length} bound values; the limit is ${MAX_PARAMS}`);
    const statements = planOf(query);
    const params = bindings.map(toParam);
    let cursor = null;
    for (let i = 0; i < statements.length; i++) {
      const last = i === statements.length - 1;
      let stmt;
      try {
        stmt = this.prepare(db, statements[i]);
      } catch (err) {
        throw sqlError(err);
      }
      const args = last ? params : [];
      try {
        if (stmt.reader) {
          const rows = stmt.all(...args);
          // A statement can write and return rows (INSERT ... RETURNING): still a write.
          const written = stmt.readonly ? 0 : this.changes(db);
          if (!stmt.readonly) db.wrote();
          if (last) cursor = new SqlCursor(stmt.columns().map((c) => c.name), rows, written);
        } else {
          const info = stmt.run(...args);
          db.wrote();
          if (last) cursor = new SqlCursor([], [], info.changes);
        }
      } catch (err) {
        throw sqlError(err);
      }
    }
    return cursor;
  }

  /** Bytes the actor's database takes (pages in use). */
  get databaseSize() {
    const db = this.turnDb().db;
    return db.pragma("page_count", { simple: true }) * db.pragma("page_size", { simple: true });
  }
}

// Query text -> its statements, split and checked. The checks depend on the text alone, so a
// text that passed them once passes again: an actor that runs the same few queries per turn
// (the common case) splits and checks each once per isolate, not once per call. Texts that
// fail are not kept (they throw every time). Bounded: forgotten all at once when full.
const PLANS = new Map();
const MAX_PLANS = 1000;

function planOf(query) {
  let statements = PLANS.get(query);
  if (statements !== undefined) return statements;
  if (RESERVED_RE.test(query)) throw new SqlError('names starting with "__telnyx_" are reserved for the runtime and cannot be used in SQL');
  statements = splitStatements(query);
  if (!statements.length) throw new SqlError("sql.exec() was given no statement");
  for (const s of statements) checkStatement(s);
  if (PLANS.size >= MAX_PLANS) PLANS.clear();
  PLANS.set(query, statements);
  return statements;
}

function checkStatement(s) {
  const word = firstWord(s);
  if (CONTROL.has(word)) {
    throw new SqlTransactionControlError(`${word} is not allowed in sql.exec(): use ctx.storage.transactionSync(() => ...) for an atomic group of statements`);
  }
  if (REFUSED.has(word)) throw new SqlError(`${word} is not allowed in an actor's database`);
  if (word === "PRAGMA") {
    const name = s.match(/PRAGMA\s+(?:main\.)?([A-Za-z_]+)/i)?.[1]?.toLowerCase();
    if (!name || !PRAGMAS.has(name) || /=/.test(s)) throw new SqlError(`PRAGMA ${name ?? ""} is not allowed in an actor's database (allowed: ${[...PRAGMAS].join(", ")})`);
  }
}

function sqlError(err) {
  if (err instanceof TypeError || err instanceof RangeError) {
    // better-sqlite3's own argument errors ("Too many parameter values were provided", ...)
    return new SqlError(err.message);
  }
  if (err?.name === "SqliteError") {
    const out = new SqlError(err.message);
    out.code = err.code;
    return out;
  }
  return err;
}

/** ctx.storage.transactionSync(fn) (spec 3.6): undoes only its own statements on a throw. */
export function transactionSync(db, fn) {
  if (typeof fn !== "function") throw new TypeError("transactionSync(fn) takes a function");
  if (fn.constructor?.name === "AsyncFunction") {
    throw new SqlAsyncTransactionError("transactionSync() takes a synchronous function; an async one cannot be atomic");
  }
  const [commit, rollback] = db.savepoint();
  let out;
  try {
    out = fn();
  } catch (err) {
    rollback();
    throw err;
  }
  if (out !== null && typeof out === "object" && typeof out.then === "function") {
    rollback();
    out.then(() => {}, () => {});
    throw new SqlAsyncTransactionError("transactionSync() callback returned a promise; nothing it did was kept");
  }
  commit();
  return out;
}
