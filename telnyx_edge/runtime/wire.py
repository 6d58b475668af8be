"""The wire between the runtime and an isolate: the one table of messages, Python side.

The Node twin is `js/wire.mjs`; `tests/unit/test_wire.py` checks that the two tables agree and
that every handler's parameters are named as its message's fields. Framing (length-prefixed
MessagePack arrays) is `protocol.py`. A message is `[op, *fields]` in the order listed here.
Requests that expect an answer carry an `id`; answers have one shape, `[id, ok, payload]`, with
payload the value, or `[error_name, message]` when ok is false.
"""

from __future__ import annotations

TO_ISOLATE: dict[str, tuple[str, ...]] = {
    "init": ("config",),
    "fetch": ("id", "method", "url", "headers", "body"),  # -> fetch_done
    "call": ("id", "type", "name", "method", "args", "chain"),  # -> result: bytes (V8-encoded)
    "alarm": ("id", "type", "name", "failures"),  # -> result: the alarm's next fire time or None
    "fetchactor": ("id", "type", "name", "request", "chain"),  # -> result: [status, headers, body]
    "reply": ("id", "ok", "payload"),  # answers an isolate's call/fetchactor
    "fetch_ack": ("id", "bytes"),  # the HTTP side took `bytes` more of a streamed body
    "fetch_cancel": ("id",),  # stop streaming a body (client gone, or a reload/stop drain ended)
    "body_chunk": ("id", "data"),  # a chunk of the streamed body of the isolate's fetchactor `id`
    "body_end": ("id", "error"),  # that body ended (error: None, or why it stopped early)
    "ping": ("seq",),  # -> pong
}

TO_PYTHON: dict[str, tuple[str, ...]] = {
    "ready": ("info",),
    "fatal": ("message",),
    "result": ("id", "ok", "payload"),
    "fetch_done": ("id", "status", "headers", "body"),  # a whole response
    "fetch_head": ("id", "status", "headers"),  # a streamed response: fetch_chunk..., then fetch_end
    "fetch_chunk": ("id", "data"),
    "fetch_end": ("id", "error"),  # error: None, or why the body stopped early
    "body_ack": ("id", "bytes"),  # the isolate read `bytes` more of body `id` (body_chunk)
    "body_cancel": ("id",),  # the isolate stopped reading body `id`
    "call": ("id", "type", "name", "method", "args", "chain"),  # a stub call to another isolate's type
    "fetchactor": ("id", "type", "name", "request", "chain"),
    "alarm_changed": ("type", "name", "fire_ms"),  # sent once the change is durable
    "actor_stats": ("rows",),  # rows of STATS_ROW, for the instance index
    "pong": ("seq",),
}

STATS_ROW: tuple[str, ...] = (
    "type", "name", "last_activity_ms", "keys", "value_bytes", "sql_tables", "db_bytes", "alarm_fire_ms",
)
