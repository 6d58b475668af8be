// The runtime's own Node packages (better-sqlite3, ...), installed once per machine by the
// Python side (telnyx_edge/runtime/packages.py), which passes their folder in
// TELNYX_EDGE_NODE_PACKAGES. They are loaded from there, never from the user's project.

import { createRequire } from "node:module";
import path from "node:path";

let req = null;

export function requirePackage(name) {
  if (!req) {
    const dir = process.env.TELNYX_EDGE_NODE_PACKAGES;
    if (!dir) throw new Error("TELNYX_EDGE_NODE_PACKAGES is not set: the runtime's Node packages folder is unknown");
    req = createRequire(path.join(dir, "package.json"));
  }
  return req(name);
}
