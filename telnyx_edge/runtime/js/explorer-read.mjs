// The explorer's reads, in the data plane's main thread (docs/explorer.md).
//
// A read opens its own connection to the actor's database and never writes (PRAGMA query_only):
// WAL lets it see the last committed state beside the activation's always-open write
// transaction, so a read neither activates the actor nor waits for its turns. What it shows is
// what a crash right now would leave. Writes are turns (explorer-turns.mjs), never done here.

import fs from "node:fs";
import { actorFile } from "./actordb.mjs";
import { decodeKey, encodeKey } from "./keys.mjs";
import { decodeValue } from "./codec.mjs";
import { requirePackage } from "./packages.mjs";
import { toTyped, typeName } from "./explorer-values.mjs";
import { CallError } from "./group.mjs";
import { NAMES as N } from "./errors.mjs";

const MAX_KEYS = 1000;
const MAX_ROWS = 500;
// An instance view carries values up to these sizes (encoded bytes); a larger one is listed with
// its type, size and a preview, and read alone (`key`): 1,000 values of up to 2 MiB would pass
// the control channel's 64 MiB frame.
const VALUE_INLINE = 64 * 1024;
const VIEW_BUDGET = 8 * 1024 * 1024;
const PREVIEW = 500;
const USER_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_\\_telnyx\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";

let Database = null;

function openRead(stateDir, type, name) {
  Database ??= requirePackage("better-sqlite3");
  const file = actorFile(stateDir, type, name);
  if (!fs.existsSync(file)) throw new CallError("NotFound", `${type}(${JSON.stringify(name)}) has no stored state`);
  const db = new Database(file, { fileMustExist: true, timeout: 2000 });
  db.pragma("query_only = ON");
  return db;
}

function withDb(stateDir, type, name, fn) {
  const db = openRead(stateDir, type, name);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const MAX_CELL = 4096; // characters of a text cell, bytes of a blob: 500 rows must fit a frame

/** SQL column values as JSON: bigint beyond 2^53 as a string, blobs as base64; a long text or
 * blob cut to MAX_CELL, saying how long it is (a page of rows is for looking, not for copying). */
function cell(v) {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) {
    if (v.length <= MAX_CELL) return { type: "bytes", base64: Buffer.from(v).toString("base64") };
    return { type: "bytes", base64: Buffer.from(v.subarray(0, MAX_CELL)).toString("base64"), truncated: true, length: v.length };
  }
  if (typeof v === "string" && v.length > MAX_CELL) return `${v.slice(0, MAX_CELL)}… (${v.length.toLocaleString("en-US")} characters)`;
  return v;
}

function quoteIdent(name) { return `"${String(name).replaceAll('"', '""')}"`; }

/** One instance: its KV pairs (typed), its tables (name, columns, row count) and its alarm. */
function instance(db, args) {
  const prefix = typeof args.prefix === "string" ? args.prefix : "";
  const rows = db.prepare("SELECT key, value FROM __telnyx_kv ORDER BY key LIMIT ?").raw().all(MAX_KEYS + 1);
  const kv = [];
  let budget = VIEW_BUDGET;
  for (const [k, v] of rows.slice(0, MAX_KEYS)) {
    const key = decodeKey(k);
    if (prefix && !key.startsWith(prefix)) continue;
    const inline = v.length <= VALUE_INLINE && v.length <= budget;
    if (inline) budget -= v.length;
    kv.push(pair(key, v, inline));
  }
  const tables = db.prepare(USER_TABLES).pluck().all().map((t) => ({
    name: t,
    columns: db.prepare(`PRAGMA table_info(${quoteIdent(t)})`).all().map((c) => ({ name: c.name, type: c.type, pk: c.pk > 0 })),
    rows: db.prepare(`SELECT count(*) FROM ${quoteIdent(t)}`).pluck().get(),
  }));
  const meta = db.prepare("SELECT alarm_ms, alarm_fire_ms, alarm_retries FROM __telnyx_meta WHERE id = 1").get();
  const alarm = meta && meta.alarm_fire_ms !== null
    ? { alarm_ms: meta.alarm_ms, fire_ms: meta.alarm_fire_ms, retries: meta.alarm_retries }
    : null;
  return { kv, kv_truncated: rows.length > MAX_KEYS, tables, alarm };
}

/** One KV pair as typed JSON; not `inline`: the value left out (`omitted`), a string previewed. */
function pair(key, v, inline = true) {
  let value;
  let type;
  try {
    const decoded = decodeValue(v);
    type = typeName(decoded);
    if (!inline) {
      const preview = typeof decoded === "string" ? decoded.slice(0, PREVIEW) : null;
      return { key, type, value: null, bytes: v.length, omitted: true, preview };
    }
    value = toTyped(decoded);
  } catch (err) {
    value = null;
    type = `undecodable (${err?.message ?? err})`;
  }
  return { key, type, value, bytes: v.length };
}

/** One KV pair, whole (a value the instance view left out). */
function key(db, args) {
  if (typeof args.key !== "string") throw new CallError("BadRequest", "\"key\" must be a string");
  const row = db.prepare("SELECT value FROM __telnyx_kv WHERE key = ?").pluck().get(encodeKey(args.key));
  if (row === undefined) throw new CallError("NotFound", `no key ${JSON.stringify(args.key)}`);
  return pair(args.key, row);
}

function table(db, args) {
  const names = db.prepare(USER_TABLES).pluck().all();
  if (!names.includes(args.table)) throw new CallError("NotFound", `no table ${JSON.stringify(args.table)}; tables: ${names.join(", ") || "-"}`);
  const limit = Math.max(1, Math.min(MAX_ROWS, args.limit | 0 || 50));
  const offset = Math.max(0, args.offset | 0);
  const stmt = db.prepare(`SELECT * FROM ${quoteIdent(args.table)} ORDER BY rowid LIMIT ? OFFSET ?`);
  let rows;
  let columns;
  try {
    stmt.safeIntegers(true);
    rows = stmt.raw().all(limit, offset);
    columns = stmt.columns().map((c) => c.name);
  } catch {
    // A WITHOUT ROWID table: its primary key order.
    const plain = db.prepare(`SELECT * FROM ${quoteIdent(args.table)} LIMIT ? OFFSET ?`).safeIntegers(true);
    rows = plain.raw().all(limit, offset);
    columns = plain.columns().map((c) => c.name);
  }
  const total = db.prepare(`SELECT count(*) FROM ${quoteIdent(args.table)}`).pluck().get();
  return { table: args.table, columns, rows: rows.map((r) => r.map(cell)), offset, limit, total };
}

/** The query box: one read-only statement (a write is refused before it runs). */
function query(db, args) {
  if (typeof args.sql !== "string" || !args.sql.trim()) throw new CallError("BadRequest", "the query is empty");
  let stmt;
  try {
    stmt = db.prepare(args.sql);
  } catch (err) {
    throw new CallError(N.SqlError, err.message);
  }
  if (!stmt.reader || !stmt.readonly) {
    throw new CallError("ReadOnly", "the query box only reads (SELECT, read-only PRAGMA); run a write with \"Run as write\" (a turn of the actor; API: POST /api/actor/action {\"action\": \"sql\"})");
  }
  stmt.safeIntegers(true);
  const params = Array.isArray(args.params) ? args.params : [];
  try {
    // Row by row, stopping at the cap: an endless query (a recursive CTE with no LIMIT) ends
    // there instead of filling memory.
    const columns = stmt.columns().map((c) => c.name);
    const rows = [];
    for (const row of stmt.raw().iterate(...params)) {
      if (rows.length === MAX_ROWS) return { columns, rows, truncated: true };
      rows.push(row.map(cell));
    }
    return { columns, rows, truncated: false };
  } catch (err) {
    throw new CallError(N.SqlError, err.message);
  }
}

const READS = { instance, key, table, query };

/** Answer one explorer read: `what` names it, `args` its arguments (with `state_dir`). */
export function explorerRead(type, name, what, args) {
  const read = READS[what];
  if (!read) throw new CallError("BadRequest", `unknown read ${JSON.stringify(what)}`);
  try {
    return withDb(args.state_dir, type, name, (db) => read(db, args));
  } catch (err) {
    if (err instanceof CallError) throw err;
    throw new CallError(err?.name === N.ActorStorageError ? "BadRequest" : "StorageError", err?.message ?? String(err));
  }
}
