// Stacks as the user should see them: the frames of their own code, mapped to the original
// .ts file, line and column (the data plane runs with --enable-source-maps and every bundle has
// its source map), with the runtime's own frames and Node's internals dropped.

import { inspect } from "node:util";

const RUNTIME_DIR = new URL(".", import.meta.url).pathname;

/** Whether a stack line is a frame of the runtime or of Node rather than of user code. */
function runtimeFrame(line) {
  return line.includes(RUNTIME_DIR) || line.includes("node:internal") || /\(node:|at node:/.test(line);
}

/** The user-code frames of `err`'s stack ("    at ..." lines, mapped), or "" when none. */
export function userFrames(err) {
  let stack;
  try { stack = String(err?.stack ?? ""); } catch { return ""; }
  const lines = stack.split("\n");
  const out = [];
  for (const line of lines) if (/^\s+at /.test(line) && !runtimeFrame(line)) out.push(line);
  return out.join("\n");
}

/** The message of what was thrown: an Error's own, else `non-Error value thrown: ` and the value
 * (`"boom"`, `{ code: 1 }`, `42`), so a `throw "boom"` reads as what it was. */
export function thrownMessage(err) {
  if (err instanceof Error) return err.message;
  let text;
  try {
    text = typeof err === "string" ? JSON.stringify(err) : inspect(err, { depth: 2, breakLength: Infinity });
  } catch {
    text = `a ${typeof err} that cannot be shown`;
  }
  return `non-Error value thrown: ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`;
}

/** `Name: message` then the user frames: what a caller's err.stack and the dev output show. */
export function userStack(err, name = err instanceof Error ? err.name : "Error", message = thrownMessage(err)) {
  const frames = userFrames(err);
  return frames ? `${name}: ${message}\n${frames}` : `${name}: ${message}`;
}

const RUNTIME_URL = new URL(".", import.meta.url).href;

/** From now on, every stack in this thread (err.stack as user code reads it too) leaves out the
 * runtime's frames and Node's internals; what is left is still mapped to the .ts sources, by
 * Node's own source-map support (the preparer --enable-source-maps installed), which is kept. */
export function dropRuntimeFrames() {
  const prepare = Error.prepareStackTrace;
  if (typeof prepare !== "function" || prepare.dropsRuntimeFrames) return;
  const filtered = (error, trace) => {
    const kept = trace.filter((site) => {
      const file = site.getFileName() ?? "";
      return !(file.startsWith("node:") || file.startsWith(RUNTIME_URL) || file.startsWith(RUNTIME_DIR));
    });
    return prepare(error, kept);
  };
  filtered.dropsRuntimeFrames = true;
  Error.prepareStackTrace = filtered;
}
