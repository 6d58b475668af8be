// The wire between the Python runtime and an isolate: the one table of messages, Node side.
// Python's twin is telnyx_edge/runtime/wire.py; tests/unit/test_wire.py checks that the two
// tables agree and that every handler's parameters are named as its fields.
//
// A message is one MessagePack array: [op, ...fields] in the order listed here. Requests that
// expect an answer carry an `id`; answers are `result` (to Python) or `reply` (to the isolate),
// one shape each: [id, ok, payload], payload being the value or [errorName, message].

/** Python -> isolate. */
export const TO_ISOLATE = {
  init: ["config"],
  fetch: ["id", "method", "url", "headers", "body"],
  call: ["id", "type", "name", "method", "args", "chain"],
  alarm: ["id", "type", "name", "failures"],
  fetchactor: ["id", "type", "name", "request", "chain"],
  reply: ["id", "ok", "payload"],
  fetch_ack: ["id", "bytes"],
  fetch_cancel: ["id"],
  body_chunk: ["id", "data"],
  body_end: ["id", "error"],
  ping: ["seq"],
};

/** isolate -> Python. */
export const TO_PYTHON = {
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
  pong: ["seq"],
};

/** Field order of one `actor_stats` row. */
export const STATS_ROW = ["type", "name", "last_activity_ms", "keys", "value_bytes", "sql_tables", "db_bytes", "alarm_fire_ms"];
