// The platform bindings of one function's `env`, built once per isolate from the "platform"
// entry of its config (resolved by telnyx_edge/runtime/bindings.py):
//   SECRETS -> SecretsBinding, [storage.kv.*] -> KvNamespace, [storage.sqldb.*] -> SqlDatabase,
//   [storage.cloudstorage.*] -> CloudStorageBucket, [[ratelimits]] -> RateLimiter,
//   [telnyx] and bindings that could not be resolved -> a getter that throws, naming the binding.
// Returned as property descriptors so the throwing getters are not run by copying env.

import { CloudStorageBucket } from "./bucket.mjs";
import { bindingError } from "./errors.mjs";
import { KvNamespace } from "./kv.mjs";
import { RateLimiter } from "./ratelimit.mjs";
import { SecretsBinding } from "./secrets.mjs";
import { SqlDatabase } from "./sqldb.mjs";

export function platformBindings(platform) {
  const out = {};
  const value = (name, v) => { out[name] = { value: v, enumerable: true, writable: false, configurable: true }; };
  if (!platform) return out;
  if (platform.secrets) value("SECRETS", new SecretsBinding(platform.secrets, platform.secret_values));
  for (const [name, conf] of Object.entries(platform.kv ?? {})) value(name, new KvNamespace(name, conf));
  for (const [name, conf] of Object.entries(platform.sqldb ?? {})) value(name, new SqlDatabase(name, conf));
  for (const [name, conf] of Object.entries(platform.buckets ?? {})) value(name, new CloudStorageBucket(name, conf));
  for (const [name, conf] of Object.entries(platform.ratelimits ?? {})) value(name, new RateLimiter(name, conf));
  for (const [name, message] of Object.entries(platform.unavailable ?? {})) {
    // Not enumerable: logging or spreading env does not trip it; reading env.NAME does.
    out[name] = { get() { throw bindingError("PlatformBindingUnavailableError", message); }, enumerable: false, configurable: true };
  }
  return out;
}
