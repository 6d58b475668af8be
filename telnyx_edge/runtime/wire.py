"""The control channel between Python and the data plane: the one table of messages, Python side.

The Node twin is `js/wire.mjs` (TO_DATAPLANE / FROM_DATAPLANE; it also holds the data plane's
internal main-thread <-> Worker tables, which Python never sees); `tests/unit/test_wire.py`
checks that the two tables agree and that every handler's parameters are named as its message's
fields. Framing (length-prefixed MessagePack arrays) is `protocol.py`. A message is
`[op, *fields]` in the order listed here. Requests that expect an answer carry an `id`; answers
have one shape, `[id, ok, payload]`, with payload the value, or `[error_name, message]` when ok
is false.
"""

from __future__ import annotations

TO_DATAPLANE: dict[str, tuple[str, ...]] = {
    "load": ("id", "group", "config"),  # start a revision's Worker pool -> result: {problems, actor_classes}
    "install": ("function_name", "group", "hosts", "fallback", "owned_types"),  # serve function from group (new requests go there at once); opens its gate
    "uninstall": ("function_name",),  # stop routing to the function (its group drains and unloads next)
    # a swap's old group: once nothing is in flight, its Workers close their actors (the new group's open) -> result
    "handover": ("id", "group", "timeout_ms"),
    "drain": ("id", "group", "timeout_ms"),  # -> result once nothing is in flight (streams cut after the drain time)
    "unload": ("id", "group"),  # stop the pool's Workers (each reports and closes its databases) -> result
    "alarm": ("id", "type", "name", "failures"),  # -> result: the alarm's next fire time or None
    "listen": ("id", "family"),  # start accepting on the inherited socket of that family -> result
    "close": ("id",),  # stop accepting, finish what is in flight -> result
    "explore": ("id", "type", "name", "action", "args"),  # the explorer: a read (read_*) or an action run as a turn -> result
    "reply": ("id", "ok", "payload"),
}

FROM_DATAPLANE: dict[str, tuple[str, ...]] = {
    "ready": ("info",),
    "result": ("id", "ok", "payload"),
    "alarm_changed": ("type", "name", "fire_ms"),  # sent once the change is durable
    "actor_stats": ("rows",),  # rows of STATS_ROW, for the instance index
    "replaced": ("function_name", "reason"),  # a Worker of the function exited or hung and was replaced
    "log": ("records",),  # request lines, actor invocations, user output (js/logrecords.mjs), oldest first
}

STATS_ROW: tuple[str, ...] = (
    "type", "name", "last_activity_ms", "keys", "value_bytes", "sql_tables", "db_bytes", "alarm_fire_ms",
)
