// better-sqlite3, loaded from the runtime's own Node packages (never the user's project), and
// one connection per file per isolate. Several isolates may open one file (every function that
// binds the same KV id or SQL database): WAL lets readers run beside the writer, and
// busy_timeout makes a writer wait for another process's write instead of failing.

import { createRequire } from "node:module";
import path from "node:path";
import { bindingError } from "./errors.mjs";

let Database = null;
const open = new Map();

export const BUSY_TIMEOUT_MS = 5000;

function driver() {
  if (Database) return Database;
  const dir = process.env.TELNYX_EDGE_NODE_PACKAGES;
  if (!dir) {
    throw bindingError("PlatformBindingUnavailableError",
      "the runtime's Node packages are not available (TELNYX_EDGE_NODE_PACKAGES is unset); run: telnyx-edge runtime install");
  }
  Database = createRequire(path.join(dir, "package.json"))("better-sqlite3");
  return Database;
}

/** The isolate's connection to `file`; `create` makes a missing file (else it must exist). */
export function database(file, { create = false } = {}) {
  let db = open.get(file);
  if (db) return db;
  const Driver = driver();
  db = new Driver(file, { fileMustExist: !create });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma("journal_mode = WAL");
  // NORMAL: a write that returned survives the runtime crashing or being killed (it is in the
  // WAL); only an OS crash or power loss may undo the last ones. A binding is not an actor's
  // durable storage (no promise of fsync before the reply), and an fsync per write cost 5 ms
  // here under load: 113 puts/s over HTTP against 313 gets/s.
  db.pragma("synchronous = NORMAL");
  open.set(file, db);
  return db;
}

/** Cursors are the last key returned, base64url-encoded (the same in telnyx_edge/account/kv.py). */
export function encodeCursor(lastKey) {
  return Buffer.from(lastKey, "utf8").toString("base64url");
}

export function decodeCursor(cursor, what) {
  if (typeof cursor !== "string" || !/^[A-Za-z0-9_-]*$/.test(cursor)) {
    throw new TypeError(`${what}: cursor must be the cursor string a previous list() returned`);
  }
  return Buffer.from(cursor, "base64url").toString("utf8");
}
