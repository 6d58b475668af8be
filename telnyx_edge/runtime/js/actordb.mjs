// One actor's durable state: a SQLite database file holding its KV pairs, its SQL tables and
// its alarm, opened by the isolate that hosts the activation (DESIGN.md, "Storage").
//
// Invariants:
// - The activation holds the database's write lock for its whole life: a write transaction is
//   always open (`BEGIN IMMEDIATE` right after every COMMIT). A second isolate that opens the
//   same file is refused with ActorStorageError; readers (inspection) still see the last
//   committed state through WAL.
// - A turn runs inside a savepoint of that transaction: `endTurn(false)` rolls the turn back
//   (KV, SQL and alarm together); `endTurn(true)` keeps it for the next batch.
// - The output gate: `durable()` resolves once every write made so far is committed AND the
//   WAL is fsync'd. Commits are batches: while one batch's fsync runs (in libuv's pool, off
//   the event loop), later turns run and their writes wait for the next batch. COMMIT itself
//   only writes WAL frames (synchronous=NORMAL); the explicit fsync is what makes it durable,
//   and SQLite's own checkpoints stay crash-safe under NORMAL.

import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { requirePackage } from "./packages.mjs";
import { encodeKey, decodeKey, prefixEnd } from "./keys.mjs";
import { ActorStorageError } from "./errors.mjs";

export const SCHEMA_VERSION = 1;
const SCHEMA = fs.readFileSync(new URL("./actor-schema.sql", import.meta.url), "utf8");
const TYPE_RE = /^[A-Za-z_$][\w$]*$/;
const MAX_DB_BYTES = 1024 * 1024 * 1024; // spec 3.6: 1 GB per actor database
const LOCK_WAIT_MS = 2000;
// An actor database is checked (PRAGMA quick_check) when it is opened if it is at most this
// big; larger ones surface corruption when the damaged pages are read.

// The state directory as the isolate first saw it: a directory replaced or removed under the
// runtime must not receive new databases (the runtime stops; see runtime/state_guard.py).
const stateDirs = new Map();

function checkStateDir(stateDir) {
  let st;
  try {
    st = fs.statSync(stateDir);
  } catch (err) {
    throw new ActorStorageError(`the state directory ${stateDir} is gone (${err.code ?? err.message}); the runtime is stopping`);
  }
  const seen = stateDirs.get(stateDir);
  if (seen === undefined) stateDirs.set(stateDir, `${st.dev}:${st.ino}`);
  else if (seen !== `${st.dev}:${st.ino}`) throw new ActorStorageError(`the state directory ${stateDir} was replaced while the runtime ran; the runtime is stopping`);
}

let Database = null;

const STATEMENTS = {
  commit: "COMMIT",
  begin: "BEGIN IMMEDIATE",
  turnBegin: "SAVEPOINT turn",
  turnUndo: "ROLLBACK TO turn",
  turnEnd: "RELEASE turn",
  get: "SELECT value FROM __telnyx_kv WHERE key = ?",
  put: "INSERT OR REPLACE INTO __telnyx_kv (key, value) VALUES (?, ?)",
  del: "DELETE FROM __telnyx_kv WHERE key = ?",
  delAll: "DELETE FROM __telnyx_kv",
  alarm: "SELECT alarm_ms, alarm_fire_ms, alarm_retries FROM __telnyx_meta WHERE id = 1",
  setAlarm: "UPDATE __telnyx_meta SET alarm_ms = ?, alarm_fire_ms = ?, alarm_retries = ? WHERE id = 1",
  stats: "SELECT count(*) AS keys, coalesce(sum(length(value)), 0) AS bytes FROM __telnyx_kv",
  userTables: "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE '\\_\\_telnyx\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
};

// Fault injection for the runtime's own tests (documented in docs/runtime.md): when set, it
// names a file; while that file exists and holds a prefix of this actor's name, the batch
// COMMIT fails as a full disk would. A first line "once" removes the file after one failure.
const FAULTS = process.env.TELNYX_EDGE_TEST_FAIL_COMMIT || "";

function injectFault(name) {
  let text;
  try { text = fs.readFileSync(FAULTS, "utf8"); } catch { return; }
  const lines = text.split("\n");
  const once = lines[0] === "once";
  const prefix = (once ? lines[1] : lines[0]) ?? "";
  if (!name.startsWith(prefix)) return;
  if (once) fs.rmSync(FAULTS, { force: true });
  const err = new Error("database or disk is full (simulated)");
  err.code = "SQLITE_FULL";
  throw err;
}

/** Where an actor's database lives: the name is hashed, never used raw (names are arbitrary). */
export function actorFile(stateDir, type, name) {
  if (!TYPE_RE.test(type)) throw new ActorStorageError(`actor type ${JSON.stringify(type)} is not a class name`);
  const digest = crypto.createHash("sha256").update(encodeKey(name)).digest("hex").slice(0, 32);
  return path.join(stateDir, "actors", type, `${digest}.sqlite`);
}

function syncWal(fd) {
  // fdatasync, as SQLite itself syncs a WAL: data plus the metadata needed to read it back
  // (the file's size), without an mtime-only journal commit.
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

export class ActorDatabase {
  /** `onAlarm(fireMs | null)`: called after a batch that changed the alarm is durable. */
  constructor(stateDir, type, name, { onAlarm } = {}) {
    this.type = type;
    this.name = name;
    this.stateDir = stateDir;
    this.file = actorFile(stateDir, type, name);
    this.onAlarm = onAlarm ?? (() => {});
    this.db = null;
    this.walFd = null;
    this.newFile = false; // the first batch also syncs the database file and its directory
    this.inTurn = false;
    this.turnDirty = false;
    this.batchDirty = false;
    this.alarmTouched = false;
    this.reportedFire = undefined;
    this.pending = null; // deferred of the batch that will hold the uncommitted writes
    this.syncing = null; // promise of the batch whose fsync is in flight
    this.broken = null; // an error that made the database unusable (a failed COMMIT or fsync)
    this.savepoints = 0;
    this.statements = null; // name -> prepared statement (see stmt())
    this.listCache = new Map();
  }

  open() {
    Database ??= requirePackage("better-sqlite3");
    checkStateDir(this.stateDir);
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    this.newFile = !fs.existsSync(this.file);
    let db;
    try {
      db = new Database(this.file, { timeout: LOCK_WAIT_MS });
    } catch (err) {
      throw this.storageError(err);
    }
    try {
      if (!this.newFile) {
        // A cheap probe, not PRAGMA quick_check (about 1 ms even for a tiny file, which made
        // opening an actor 10 times dearer): read the schema and a row of each reserved table.
        // Damage it misses surfaces on first use as SQLITE_CORRUPT, reported the same way.
        db.prepare("SELECT count(*) FROM sqlite_master").pluck().get();
        if (db.prepare("SELECT count(*) FROM sqlite_master WHERE name = '__telnyx_meta'").pluck().get()) {
          db.prepare("SELECT type FROM __telnyx_meta WHERE id = 1").get();
          db.prepare("SELECT key FROM __telnyx_kv LIMIT 1").get();
        }
      }
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      db.pragma(`max_page_count = ${Math.floor(MAX_DB_BYTES / db.pragma("page_size", { simple: true }))}`);
      const version = db.pragma("user_version", { simple: true });
      if (version > SCHEMA_VERSION) {
        throw new ActorStorageError(`${this.file} was written by a newer telnyx-edge (schema ${version})`);
      }
      try {
        db.exec("BEGIN IMMEDIATE");
      } catch (err) {
        if (err?.code === "SQLITE_BUSY") {
          throw new ActorStorageError(`the database of ${this.type} ${JSON.stringify(this.name)} is open for writing in another isolate; one activation per actor`);
        }
        throw err;
      }
      if (version === 0) {
        db.exec(SCHEMA);
        db.prepare("INSERT OR IGNORE INTO __telnyx_meta (id, type, name) VALUES (1, ?, ?)").run(this.type, encodeKey(this.name));
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
        this.batchDirty = true;
        this.newFile = true;
      }
      this.walFd = fs.openSync(this.file + "-wal", "r");
      this.prepare(db);
    } catch (err) {
      // Nothing of a failed open stays behind: the write lock goes with the connection.
      this.db = null;
      try { db.close(); } catch { /* already unusable */ }
      if (this.walFd !== null) { fs.closeSync(this.walFd); this.walFd = null; }
      throw this.storageError(err);
    }
    return this;
  }

  /** ActorStorageError naming the actor and the fix; the runtime's own errors pass unchanged. */
  storageError(err) {
    if (err instanceof ActorStorageError) return err;
    const who = `${this.type}(${JSON.stringify(this.name)})`;
    if (err?.code === "SQLITE_CORRUPT" || err?.code === "SQLITE_NOTADB") {
      return new ActorStorageError(`the database of ${who} is corrupt (${err.message}): ${this.file}; restore it from a backup, or move it away to start this actor empty`);
    }
    return new ActorStorageError(`opening the database of ${who} failed: ${err?.message ?? err}`);
  }

  prepare(db) {
    // Statements are prepared on first use: preparing all of them up front cost more than the
    // rest of an open together, and most activations use only a few.
    this.statements = new Map();
    this.db = db;
    this.reportedFire = this.stmt("alarm").get()?.alarm_fire_ms ?? null;
  }

  stmt(name) {
    let stmt = this.statements.get(name);
    if (stmt === undefined) {
      stmt = this.db.prepare(STATEMENTS[name]);
      if (name === "get") stmt.pluck();
      this.statements.set(name, stmt);
    }
    return stmt;
  }

  // -- turns ------------------------------------------------------------------------------

  beginTurn() {
    if (this.broken) throw new ActorStorageError(`storage of ${this.type} ${JSON.stringify(this.name)} is unusable: ${this.broken.message}`);
    this.stmt("turnBegin").run();
    this.inTurn = true;
    this.turnDirty = false;
  }

  /** Close the turn's savepoint: keep its writes (ok) or undo all of them. */
  endTurn(ok) {
    this.inTurn = false;
    if (!ok) this.stmt("turnUndo").run();
    this.stmt("turnEnd").run();
    if (ok && this.turnDirty) this.batchDirty = true;
    this.turnDirty = false;
  }

  /** A nested savepoint for transaction()/transactionSync(); returns [commit, rollback]. */
  savepoint() {
    const name = `s${++this.savepoints}`;
    this.db.exec(`SAVEPOINT ${name}`);
    let open = true;
    const close = (undo) => {
      if (!open) return;
      open = false;
      if (undo) this.db.exec(`ROLLBACK TO ${name}`);
      this.db.exec(`RELEASE ${name}`);
    };
    return [() => close(false), () => close(true)];
  }

  wrote() { this.turnDirty = true; }

  // -- the output gate ----------------------------------------------------------------------

  /** Resolves when every write made so far is on disk; rejects if that batch failed. */
  durable() {
    if (this.broken) return Promise.reject(this.broken);
    if (this.batchDirty) {
      this.pending ??= deferred();
      const p = this.pending.promise;
      this.startBatch();
      return p;
    }
    return this.syncing ?? null;
  }

  startBatch() {
    if (this.syncing || this.inTurn || !this.batchDirty || this.broken) return;
    const batch = this.pending ?? deferred();
    this.pending = null;
    this.batchDirty = false;
    const alarmTouched = this.alarmTouched;
    this.alarmTouched = false;
    const syncs = [];
    try {
      if (FAULTS) injectFault(this.name);
      this.stmt("commit").run();
      this.stmt("begin").run();
    } catch (err) {
      // SQLite undid the COMMIT (or it never ran): the whole batch is gone. Undo what is
      // still open and stop: no turn that could have read the lost writes may reply.
      try { if (this.db.inTransaction) this.db.exec("ROLLBACK"); } catch { /* closing anyway */ }
      this.fail(err);
      batch.reject(err);
      return;
    }
    syncs.push(syncWal(this.walFd));
    if (this.newFile) {
      // A new file: its directory entries (database and WAL) and its header must be durable too.
      this.newFile = false;
      syncs.push(syncPath(this.file), syncPath(path.dirname(this.file)), syncPath(path.dirname(path.dirname(this.file))));
    }
    const failed = (err) => {
      this.syncing = null;
      this.fail(err);
      batch.reject(err);
      throw err;
    };
    const syncing = Promise.all(syncs).then(() => {
      // A file deleted under us (its state directory removed) takes every write with it: no
      // reply may claim durability. One fstat per batch (about a microsecond).
      if (fs.fstatSync(this.walFd).nlink === 0) {
        return failed(new ActorStorageError(`the database of ${this.type}(${JSON.stringify(this.name)}) was deleted while in use (was the state directory ${this.stateDir} removed?); nothing after that was stored`));
      }
      this.syncing = null;
      if (alarmTouched) this.reportAlarm();
      batch.resolve();
      this.startBatch();
    }, failed);
    syncing.catch(() => {});
    this.syncing = syncing;
  }

  fail(err) {
    // A COMMIT or fsync that failed: what was written may or may not be on disk, so no later
    // reply may claim durability. The activation is torn down; a new one reopens the file.
    this.broken = err;
    this.pending?.reject(err);
    this.pending = null;
  }

  reportAlarm() {
    const fire = this.alarmRow()?.alarm_fire_ms ?? null;
    if (fire !== this.reportedFire) {
      this.reportedFire = fire;
      this.onAlarm(fire);
    }
  }

  get idle() { return !this.inTurn && !this.batchDirty && !this.syncing && !this.pending; }

  close() {
    if (!this.db) return;
    try {
      if (this.db.inTransaction) this.db.exec(this.broken ? "ROLLBACK" : "COMMIT");
    } finally {
      this.db.close();
      this.db = null;
      fs.closeSync(this.walFd);
    }
  }

  // -- KV -----------------------------------------------------------------------------------

  get(key) { return this.stmt("get").get(encodeKey(key)); }

  put(key, bytes) { this.stmt("put").run(encodeKey(key), bytes); this.turnDirty = true; }

  delete(key) {
    const existed = this.stmt("del").run(encodeKey(key)).changes > 0;
    this.turnDirty = true;
    return existed;
  }

  /** KV pairs in key order; `o` as checked by storage.mjs (limit already bounded). */
  list(o) {
    const where = [];
    const args = [];
    if (o.prefix !== undefined) {
      const p = encodeKey(o.prefix);
      const end = prefixEnd(p);
      let range = end ? "(key >= ? AND key < ?)" : "key >= ?";
      args.push(p);
      if (end) args.push(end);
      const last = o.prefix.charCodeAt(o.prefix.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        // A prefix ending in a high surrogate also starts (as startsWith() says) the keys where
        // that surrogate is paired, which WTF-8 stores elsewhere: as one 4-byte code point.
        const head = o.prefix.slice(0, -1);
        range = `(${range} OR (key >= ? AND key < ?))`;
        args.push(encodeKey(head + String.fromCharCode(last, 0xdc00)), prefixEnd(encodeKey(head + String.fromCharCode(last, 0xdfff))));
      }
      where.push(range);
    }
    if (o.start !== undefined) { where.push("key >= ?"); args.push(encodeKey(o.start)); }
    if (o.startAfter !== undefined) { where.push("key > ?"); args.push(encodeKey(o.startAfter)); }
    if (o.end !== undefined) { where.push("key < ?"); args.push(encodeKey(o.end)); }
    const sql = `SELECT key, value FROM __telnyx_kv${where.length ? " WHERE " + where.join(" AND ") : ""} ORDER BY key ${o.reverse ? "DESC" : "ASC"} LIMIT ?`;
    let stmt = this.listCache.get(sql);
    if (!stmt) { stmt = this.db.prepare(sql).raw(); this.listCache.set(sql, stmt); }
    return stmt.all(...args, o.limit).map(([k, v]) => [decodeKey(k), v]);
  }

  /** Every KV pair and every user table, view, index and trigger (spec 3.8: the alarm stays). */
  deleteAll() {
    this.stmt("delAll").run();
    const objects = this.stmt("userTables").all();
    if (objects.length) {
      // Dropping a parent before its child would trip foreign keys mid-way; deferring the
      // checks is safe because no user table is left to violate them once all are gone.
      this.db.pragma("defer_foreign_keys = ON");
      for (const { name, type } of objects.filter((o) => o.type === "view")) this.db.exec(`DROP VIEW IF EXISTS "${name.replaceAll('"', '""')}"`);
      for (const { name, type } of objects.filter((o) => o.type === "table")) this.db.exec(`DROP TABLE IF EXISTS "${name.replaceAll('"', '""')}"`);
      this.db.pragma("defer_foreign_keys = OFF");
      const seq = this.db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'").pluck().get();
      if (seq) this.db.exec("DELETE FROM sqlite_sequence");
    }
    this.turnDirty = true;
  }

  // -- the alarm ----------------------------------------------------------------------------

  alarmRow() { return this.stmt("alarm").get(); }

  getAlarm() { return this.alarmRow()?.alarm_ms ?? null; }

  setAlarm(ms) {
    this.stmt("setAlarm").run(ms, ms, 0);
    this.turnDirty = true;
    this.alarmTouched = true;
  }

  deleteAlarm() {
    this.stmt("setAlarm").run(null, null, 0);
    this.turnDirty = true;
    this.alarmTouched = true;
  }

  /** Start of an alarm turn: the row if it is due (and consume it), else null. */
  takeDueAlarm(nowMs) {
    const row = this.alarmRow();
    if (!row || row.alarm_fire_ms === null || row.alarm_fire_ms > nowMs) return null;
    this.deleteAlarm();
    return row;
  }

  /** After a failed alarm turn (rolled back): retry `delayMs` later, or delete after the last try. */
  alarmFailed(row, delayMs, maxRetries, nowMs) {
    if (row.alarm_retries >= maxRetries) this.stmt("setAlarm").run(null, null, 0);
    else this.stmt("setAlarm").run(row.alarm_ms, nowMs + delayMs, row.alarm_retries + 1);
    this.turnDirty = true;
    this.alarmTouched = true;
  }

  /** For the index: what `actors instances` shows. */
  stats() {
    const { keys, bytes } = this.stmt("stats").get();
    const tables = this.stmt("userTables").all().filter((o) => o.type === "table").length;
    let dbBytes = 0;
    for (const suffix of ["", "-wal"]) {
      try { dbBytes += fs.statSync(this.file + suffix).size; } catch { /* not there */ }
    }
    return { keys, bytes, tables, dbBytes, fire: this.alarmRow()?.alarm_fire_ms ?? null };
  }
}

function syncPath(p) {
  return new Promise((resolve, reject) => {
    fs.open(p, "r", (err, fd) => {
      if (err) return reject(err);
      fs.fsync(fd, (err2) => fs.close(fd, () => (err2 ? reject(err2) : resolve())));
    });
  });
}
