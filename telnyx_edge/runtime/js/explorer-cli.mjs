// Explorer reads in a process of their own: `telnyx-edge actors storage|alarm` when no runtime
// runs (one actor's stored state as the explorer shows it), and the page's query box (a query
// that runs past its budget is killed with this process, never holding the data plane).
// Reads only; never writes (explorer-read.mjs).
// argv: STATE_DIR TYPE NAME [PACKAGES_DIR] [WHAT]; WHAT (default "instance") reads its
// arguments as JSON from stdin. Exit 0 with the answer as JSON, or 1 with {"error", "message"}.

const [stateDir, type, name, packages, what] = process.argv.slice(2);
if (packages) process.env.TELNYX_EDGE_NODE_PACKAGES = packages; // before anything loads better-sqlite3
const { explorerRead } = await import("./explorer-read.mjs");

async function stdinJson() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

try {
  const args = what ? await stdinJson() : {};
  const view = explorerRead(type, name, what || "instance", { ...args, state_dir: stateDir });
  process.stdout.write(JSON.stringify(view, (k, v) => (typeof v === "bigint" ? v.toString() : v)));
} catch (err) {
  process.stdout.write(JSON.stringify({ error: err?.errorName ?? err?.name ?? "Error", message: err?.message ?? String(err) }));
  process.exitCode = 1;
}
