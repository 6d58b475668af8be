// Load a shipped bundle once, before it is deployed, and report what it exports.
//
// usage: node check.mjs BUNDLE_DIR REPORT_PATH
// BUNDLE_DIR holds bundle.mjs and node_modules/@telnyx/edge-runtime (a link to the runtime's
// own module, made by the caller), so the bundle's external import resolves as in an isolate. The report
// is one JSON document written to REPORT_PATH (stdout belongs to the user's code); Python
// decides what is an error. The bundle's top-level code runs here once, as in an isolate.
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { writeFileSync } from "node:fs";

const [dir, reportPath] = process.argv.slice(2);

function describe(value, StatefulActor) {
  if (typeof value === "function") {
    const isClass = /^class[\s{]/.test(Function.prototype.toString.call(value));
    if (isClass && value.prototype instanceof StatefulActor) return "actor";
    return isClass ? "class" : "function";
  }
  if (value === null) return "null";
  return typeof value;
}

async function main() {
  const runtime = await import(pathToFileURL(join(dir, "node_modules/@telnyx/edge-runtime/edge-runtime.mjs")).href);
  let mod;
  try {
    mod = await import(pathToFileURL(join(dir, "bundle.mjs")).href);
  } catch (err) {
    const message = err && err.message ? err.message : String(err);
    return { ok: false, error: `${err && err.name ? err.name : "Error"}: ${message}` };
  }
  const exports = {};
  for (const [name, value] of Object.entries(mod)) exports[name] = describe(value, runtime.StatefulActor);
  const fallback = mod.default;
  const fetchKind = fallback && (typeof fallback === "object" || typeof fallback === "function")
    ? typeof fallback.fetch
    : "missing";
  return { ok: true, exports, defaultFetch: fetchKind };
}

main().then(
  (report) => {
    writeFileSync(reportPath, JSON.stringify(report));
    process.exit(0);
  },
  (err) => {
    writeFileSync(reportPath, JSON.stringify({ ok: false, error: String((err && err.stack) || err) }));
    process.exit(0);
  },
);
