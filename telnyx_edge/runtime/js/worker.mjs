// Entry point of one isolate Worker (host.mjs); started ahead of need as a spare (spares.mjs).
// Its first message is `{config, env}`: the revision to load, and the function's own environment
// (secrets and [env_vars], spec 2.3) added to this Worker's copy of process.env before the bundle
// loads. Every later message is a batch of the wire's TO_WORKER messages.
import { parentPort } from "node:worker_threads";
import { PortChannel } from "./channel.mjs";
import { boot } from "./host.mjs";

parentPort.once("message", ({ config, env }) => {
  Object.assign(process.env, env);
  boot((onMessage) => new PortChannel(parentPort, onMessage), config);
});
