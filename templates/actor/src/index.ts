import type { ActorNamespace } from "@telnyx/edge-runtime";
import type { Counter } from "./counter";

// The class is re-exported from `main` so the bundle ships it: this function owns
// the Counter actor type. (`telnyx-edge types` can generate a global Env instead.)
export { Counter } from "./counter";

interface Env {
  COUNTER: ActorNamespace<Counter>;
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/health/")) return new Response("ok");
    const name = url.searchParams.get("name") ?? "demo";
    const counter = env.COUNTER.idFromName(name);
    const value = req.method === "POST" ? await counter.increment(1) : await counter.value();
    return Response.json({ name, value });
  },
};
