// The `@telnyx/edge-runtime` module as user bundles see it. Bundles keep the import
// external; the isolate resolves it to this file, so user code and the host share one
// StatefulActor class and one set of error classes.

import { defineAgent } from "./agent.mjs";

export * from "./errors.mjs";

/** The function's bindings (filled in by the host before the bundle is imported). */
export const env = {};

export class StatefulActor {
  constructor(ctx, env) {
    // Non-enumerable: an actor instance must not look like a plain data bag.
    Object.defineProperty(this, "ctx", { value: ctx, enumerable: false });
    Object.defineProperty(this, "env", { value: env, enumerable: false });
  }

  async fetch(_req) {
    return new Response("Not Found", { status: 404 });
  }

  async alarm(_info) {}
}

/** The Agent SDK's base class (agent.mjs; docs/agents.md). */
export const Agent = defineAgent(StatefulActor);
