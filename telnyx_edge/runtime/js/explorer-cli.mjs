// `telnyx-edge actors storage|alarm` reads when no runtime runs: one actor's stored state as
// the explorer shows it (explorer-read.mjs), printed as JSON. Reads only; never writes.
// argv: STATE_DIR TYPE NAME [PACKAGES_DIR]. Exit 0 with the view, or 1 with {"error", "message"}.

const [stateDir, type, name, packages] = process.argv.slice(2);
if (packages) process.env.TELNYX_EDGE_NODE_PACKAGES = packages; // before anything loads better-sqlite3
const { explorerRead } = await import("./explorer-read.mjs");
try {
  const view = explorerRead(type, name, "instance", { state_dir: stateDir });
  process.stdout.write(JSON.stringify(view, (k, v) => (typeof v === "bigint" ? v.toString() : v)));
} catch (err) {
  process.stdout.write(JSON.stringify({ error: err?.errorName ?? err?.name ?? "Error", message: err?.message ?? String(err) }));
  process.exitCode = 1;
}
