// Spare isolate Workers, started ahead of need: a Worker spends most of its start-up importing
// the runtime (host.mjs and its modules, better-sqlite3's addon), which does not depend on the
// function it will run. A spare has done that and waits for its first message, `{config, env}`;
// loading a revision (start, hot reload, replacing a Worker that died) takes spares and only
// imports the bundle. Measured here: a revision of 2 Workers loaded in about 75 ms from cold
// Workers, most of it this import.
//
// Invariant: a spare has received no message; once taken it belongs to its slot alone.

import { Worker } from "node:worker_threads";
import os from "node:os";

const WORKER_URL = new URL("./worker.mjs", import.meta.url);
const pool = [];
let target = Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 8));

function spawn() {
  const worker = new Worker(WORKER_URL, { workerData: { spare: true } });
  const drop = () => {
    const i = pool.indexOf(worker);
    if (i >= 0) pool.splice(i, 1);
  };
  worker.once("exit", drop);
  worker.once("error", drop);
  worker.unref(); // an idle spare keeps nothing alive
  pool.push(worker);
}

/** Keep `count` spares ready (the pool size of the revisions being loaded). */
export function keepSpares(count) {
  target = Math.max(target, count);
  while (pool.length < target) spawn();
}

/** A started Worker waiting for `{config, env}`: a spare if one is ready, else a new one.
 * Refill with keepSpares once the load that took it is done (not during: a spare starting
 * competes for the CPU with the Workers loading). */
export function takeWorker() {
  const worker = pool.shift() ?? new Worker(WORKER_URL, { workerData: { spare: true } });
  worker.removeAllListeners("exit");
  worker.removeAllListeners("error");
  worker.ref();
  return worker;
}

/** Refill the pool a little later, off the path of whatever is loading now. */
export function refillSoon(count) {
  setTimeout(() => keepSpares(count), 100).unref();
}
