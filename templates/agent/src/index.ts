import type { ActorNamespace } from "@telnyx/edge-runtime";
import type { Assistant } from "./assistant";

// The class is re-exported from `main` so the bundle ships it: this function owns
// the Assistant actor type. (`telnyx-edge types` can generate a global Env instead.)
export { Assistant } from "./assistant";

interface Env {
  ASSISTANT: ActorNamespace<Assistant>;
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/health/")) return new Response("ok");
    if (url.pathname !== "/messages") return new Response("not found", { status: 404 });
    const name = url.searchParams.get("name") || "demo";
    const assistant = env.ASSISTANT.idFromName(name);
    if (req.method === "POST") {
      const text = (await req.text()).trim();
      if (!text) return Response.json({ error: "send the message text as the request body" }, { status: 400 });
      const seq = await assistant.receive(text);
      return Response.json({ name, seq, status: "queued" }, { status: 202 });
    }
    return Response.json(await assistant.inspect());
  },
};
