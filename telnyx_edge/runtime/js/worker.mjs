// Entry point of one isolate Worker (host.mjs); started by the data plane's main thread (group.mjs).
import { parentPort, workerData } from "node:worker_threads";
import { PortChannel } from "./channel.mjs";
import { boot } from "./host.mjs";

boot((onMessage) => new PortChannel(parentPort, onMessage), workerData);
