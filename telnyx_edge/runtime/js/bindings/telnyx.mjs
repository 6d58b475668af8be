// The `[telnyx]` binding: `env.<binding>` is a client from Telnyx's public `telnyx` npm package
// (agent-sdk-spec §7.1), authenticated with the account's TELNYX_API_KEY secret.
//
// The package is one of the runtime's own Node packages (runtime/node/package.json), loaded
// from $TELNYX_EDGE_NODE_PACKAGES, never from the project: most projects that use the binding
// do not list `telnyx`. The platform injects TELNYX_API_KEY and TELNYX_BASE_URL into every
// function that declares `[telnyx]` (spec 2.3); the isolate process gets every account secret
// as a process.env variable, so the key is process.env.TELNYX_API_KEY, and TELNYX_BASE_URL
// (default https://api.telnyx.com/v2, the package's own default) points the client elsewhere,
// e.g. at a local stub in tests.
//
// `env.<binding>` is a proxy that builds the client on first use and is shared by the whole
// isolate: loading the package takes ~150 ms, which an isolate that never calls the API (or
// a dev reload) should not pay. Without a key, every API call rejects with one line that says
// how to add it (no request is sent).

import { createRequire } from "node:module";
import path from "node:path";

export const DEFAULT_BASE_URL = "https://api.telnyx.com/v2";
const KEY = "TELNYX_API_KEY";

let client = null;
let lazy = null;

/** The value of `env.<binding>`: a proxy that forwards to the client, built on first use. */
export function telnyxBinding(binding) {
  if (lazy) return lazy;
  // process.env as the platform sets it for a function with `[telnyx]` (the host calls this
  // before the bundle loads): the base URL is always there, the key when the secret exists.
  if (!process.env.TELNYX_BASE_URL) process.env.TELNYX_BASE_URL = DEFAULT_BASE_URL;
  lazy = new Proxy({}, {
    get(_target, prop) {
      if (prop === "then") return undefined; // not a thenable: `await env.TELNYX` stays the proxy
      const real = telnyxClient(binding);
      const value = Reflect.get(real, prop, real);
      // Methods run on the real client: its private fields do not exist on the proxy.
      return typeof value === "function" ? value.bind(real) : value;
    },
    has: (_target, prop) => prop in telnyxClient(binding),
  });
  return lazy;
}

export function telnyxClient(binding) {
  if (client) return client;
  const Telnyx = loadPackage(binding);
  const apiKey = process.env[KEY] || null;
  client = new Telnyx({ apiKey, baseURL: process.env.TELNYX_BASE_URL || DEFAULT_BASE_URL });
  if (!apiKey) {
    const message =
      `env.${binding}: the ${KEY} secret is not set; add it with \`telnyx-edge secrets add ${KEY}\` ` +
      `(or export ${KEY} before starting telnyx-edge) and restart`;
    // makeRequest is where every resource method ends up; failing there gives the caller the
    // package's own promise type (APIPromise) with our one-line error, and no retries.
    client.makeRequest = async () => {
      throw new Error(message);
    };
  }
  return client;
}

function loadPackage(binding) {
  const folder = process.env.TELNYX_EDGE_NODE_PACKAGES;
  if (!folder) {
    throw new Error(`env.${binding}: the runtime's Node packages were not found (TELNYX_EDGE_NODE_PACKAGES is not set); run \`telnyx-edge runtime install\``);
  }
  try {
    const mod = createRequire(path.join(folder, "package.json"))("telnyx");
    return mod.default ?? mod.Telnyx ?? mod;
  } catch (err) {
    throw new Error(`env.${binding}: the telnyx package is missing from the runtime's Node packages (${folder}); run \`telnyx-edge runtime install\``);
  }
}
