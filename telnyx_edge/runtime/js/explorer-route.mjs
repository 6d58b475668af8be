// The explorer's `explore` message in the data plane's main thread: reads (`read_*`) are
// answered here from the actor's database file (explorer-read.mjs); every other action goes to
// the Worker hosting the actor, where it runs as a turn (explorer-turns.mjs), routed exactly as
// a stub call or an alarm is (the owner's installed group, the slot of the actor's name).

import { promiseSink } from "./group.mjs";
import { explorerRead } from "./explorer-read.mjs";

export async function explore(router, type, name, action, args) {
  if (typeof action === "string" && action.startsWith("read_")) {
    return explorerRead(type, name, action.slice(5), args ?? {});
  }
  const [sink, promise] = promiseSink();
  router.toActor(null, type, name, sink, "explore", type, name, action, args ?? {});
  return promise;
}
