// The data plane's two wires, Node side: one table of messages each.
//
// 1. The control channel, Python <-> the data plane's main thread (TO_DATAPLANE / FROM_DATAPLANE).
//    Python's twin is telnyx_edge/runtime/wire.py; tests/unit/test_wire.py checks that the two
//    tables agree and that every handler's parameters are named as its fields.
// 2. The main thread <-> one isolate Worker (TO_WORKER / FROM_WORKER): requests, their answers,
//    streamed bodies and what the Worker reports.
//
// A message is one array: [op, ...fields] in the order listed here. Requests that expect an answer
// carry an `id`; answers are `result` (from the side that was asked) or `reply` (to a Worker that
// asked), one shape each: [id, ok, payload], payload being the value or [errorName, message].

/** Python -> data plane. */
export const TO_DATAPLANE = {
  load: ["id", "group", "config"], // start a revision's Worker pool -> result: {problems, actor_classes}
  install: ["function_name", "group", "hosts", "fallback", "owned_types"], // serve `function` from `group` (new requests go there at once); opens its gate
  uninstall: ["function_name"], // stop routing to the function (its group drains and unloads next)
  handover: ["id", "group", "timeout_ms"], // a swap's old group: once nothing is in flight, its Workers close their actors (the new group's open) -> result
  drain: ["id", "group", "timeout_ms"], // -> result once nothing is in flight (streams cut after the drain time)
  unload: ["id", "group"], // stop the pool's Workers (each reports and closes its databases) -> result
  alarm: ["id", "type", "name", "failures"], // -> result: the alarm's next fire time or null
  listen: ["id", "family"], // start accepting on the inherited socket of that address family (bound by Python) -> result
  close: ["id"], // stop accepting, finish what is in flight -> result
  explore: ["id", "type", "name", "action", "args"], // the explorer: a read (read_*) or an action run as a turn -> result
  reply: ["id", "ok", "payload"],
};

/** data plane -> Python. */
export const FROM_DATAPLANE = {
  ready: ["info"],
  result: ["id", "ok", "payload"],
  alarm_changed: ["type", "name", "fire_ms"], // sent once the change is durable
  actor_stats: ["rows"], // rows of STATS_ROW, for the instance index
  replaced: ["function_name", "reason"], // a Worker of the function exited or hung and was replaced
  log: ["records"], // request lines, actor invocations, user output: records of logrecords.mjs, oldest first
};

/** main thread -> Worker. */
export const TO_WORKER = {
  fetch: ["id", "method", "url", "headers", "body"],
  call: ["id", "type", "name", "method", "args", "chain"],
  alarm: ["id", "type", "name", "failures"],
  explore: ["id", "type", "name", "action", "args"], // an explorer action, run as a turn (explorer-turns.mjs)
  fetchactor: ["id", "type", "name", "request", "chain"],
  reply: ["id", "ok", "payload"],
  fetch_ack: ["id", "bytes"],
  fetch_cancel: ["id"],
  body_chunk: ["id", "data"],
  body_end: ["id", "error"],
  ping: ["seq"],
  open_actors: [], // the older group holding this revision's actor types let go: run the turns held until now
  close_actors: ["id"], // hand the actors over: close every activation, keep running (streams) -> result
  stop: [],
  // WebSockets (websockets.mjs / actor-sockets.mjs): the fetch handler's run of an upgrade, then frames and the close.
  ws_fetch: ["id", "socket", "method", "url", "headers"],
  ws_frame: ["socket", "data", "binary"],
  ws_error: ["socket", "message"],
  ws_close: ["socket", "code", "reason"],
};

/** The TO_WORKER messages that are requests (each answered by `result` or `fetch_*`), and when the
 * work of one begins on the Worker: "taken" as the Worker takes it off its port, "turn" once its
 * actor's mailbox starts its turn. A Worker that hangs or exits has what it never began sent
 * again to its replacement (delivery.mjs); the main thread sends no other request. */
export const WORKER_REQUESTS = { fetch: "taken", ws_fetch: "taken", explore: "taken", close_actors: "taken", call: "turn", alarm: "turn", fetchactor: "turn" };

/** Worker -> main thread. */
export const FROM_WORKER = {
  ready: ["info"],
  fatal: ["message"],
  result: ["id", "ok", "payload"],
  fetch_done: ["id", "status", "headers", "body"],
  fetch_head: ["id", "status", "headers"],
  fetch_chunk: ["id", "data"],
  fetch_end: ["id", "error"],
  body_ack: ["id", "bytes"],
  body_cancel: ["id"],
  call: ["id", "type", "name", "method", "args", "chain"],
  fetchactor: ["id", "type", "name", "request", "chain"],
  alarm_changed: ["type", "name", "fire_ms"],
  actor_stats: ["rows"],
  log: ["records"], // records of logrecords.mjs (invocations, user output), batched
  pong: ["seq"],
  stopped: [],
  ws_accept: ["socket"], // this Worker's activation took the socket (sent before the stub's 101 answer)
  ws_send: ["socket", "data", "binary"],
  ws_broadcast: ["sockets", "data", "binary"],
  ws_close: ["socket", "code", "reason"], // 1006: drop the connection without a close frame
};

/** Field order of one `actor_stats` row. */
export const STATS_ROW = ["type", "name", "last_activity_ms", "keys", "value_bytes", "sql_tables", "db_bytes", "alarm_fire_ms"];
