// Starts miniflare (bench/peers/package.json pins it) on the Account Durable Object of worker.mjs,
// with SQLite-backed storage persisted under PERSIST_DIR (so it is written to disk, as ours is).
// usage: node bench/peers/miniflare.mjs PERSIST_DIR CLASS   (CLASS: Account or AccountSql)
// Prints `Ready on URL` once it answers, and disposes of miniflare (and its workerd) on SIGTERM/SIGINT.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const [persist, className = "Account"] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));

const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  modules: true,
  scriptPath: path.join(here, "worker.mjs"),
  compatibilityDate: "2026-04-01",
  durableObjects: { ACCOUNT: { className, useSQLite: true } },
  durableObjectsPersist: persist,
});

const url = await mf.ready;
console.log(`Ready on ${url.origin}`);

let closing = false;
async function close() {
  if (closing) return;
  closing = true;
  await mf.dispose();
  process.exit(0);
}
process.on("SIGTERM", close);
process.on("SIGINT", close);
