// `telnyx-edge actors storage|alarm` reads when no runtime runs: one actor's stored state as
// the explorer shows it (explorer-read.mjs), printed as JSON. Reads only; never writes.
// argv: STATE_DIR TYPE NAME. Exit 0 with the view, or 1 with {"error", "message"}.

import { explorerRead } from "./explorer-read.mjs";

const [stateDir, type, name] = process.argv.slice(2);
try {
  const view = explorerRead(type, name, "instance", { state_dir: stateDir });
  process.stdout.write(JSON.stringify(view, (k, v) => (typeof v === "bigint" ? v.toString() : v)));
} catch (err) {
  process.stdout.write(JSON.stringify({ error: err?.errorName ?? err?.name ?? "Error", message: err?.message ?? String(err) }));
  process.exitCode = 1;
}
