"""The control channel's two tables (runtime/wire.py, runtime/js/wire.mjs) agree, and every
handler on each side takes exactly its message's fields, by name and in order; so do the data
plane's internal main-thread <-> Worker tables and their handlers (host.mjs, group.mjs)."""

from __future__ import annotations

import inspect
import re

from telnyx_edge.runtime import dataplane, wire
from telnyx_edge.runtime.jsmodule import JS_DIR
from tests.harness import node_json

_SCRIPT = """
const [wire, host, group, plane] = await Promise.all(process.argv.slice(1).map((url) => import(url)));
const params = (fn) => {
  const src = fn.toString();
  return src.slice(src.indexOf("(") + 1, src.indexOf(")")).split(",").map((p) => p.trim()).filter(Boolean);
};
const names = (table, skip) => Object.fromEntries(Object.entries(table).map(([op, fn]) => [op, params(fn).slice(skip)]));
console.log(JSON.stringify({
  to_dataplane: wire.TO_DATAPLANE, from_dataplane: wire.FROM_DATAPLANE, stats: wire.STATS_ROW,
  to_worker: wire.TO_WORKER, from_worker: wire.FROM_WORKER, worker_requests: wire.WORKER_REQUESTS,
  worker_handlers: names(host.HANDLERS, 2), main_handlers: names(group.FROM_WORKER_HANDLERS, 1),
  dataplane_handlers: names(plane.HANDLERS, 1),
}));
"""


def _node_side() -> dict[str, dict[str, list[str]]]:
    modules = [(JS_DIR / f).as_uri() for f in ("wire.mjs", "host.mjs", "group.mjs", "dataplane.mjs")]
    result: dict[str, dict[str, list[str]]] = node_json(_SCRIPT, *modules)
    return result


def test_the_two_control_tables_agree() -> None:
    node = _node_side()
    assert node["to_dataplane"] == {op: list(fields) for op, fields in wire.TO_DATAPLANE.items()}
    assert node["from_dataplane"] == {op: list(fields) for op, fields in wire.FROM_DATAPLANE.items()}
    assert node["stats"] == list(wire.STATS_ROW)


def test_each_node_handler_takes_the_fields_of_its_message() -> None:
    node = _node_side()
    for handlers, table in (("worker_handlers", "to_worker"), ("main_handlers", "from_worker"), ("dataplane_handlers", "to_dataplane")):
        assert set(node[handlers]) == set(node[table]), handlers
        for op, names in node[handlers].items():
            assert names == node[table][op], (handlers, op)


def test_python_handlers_take_the_fields_of_their_message() -> None:
    assert set(dataplane._HANDLERS) == set(wire.FROM_DATAPLANE)
    for op, handler in dataplane._HANDLERS.items():
        names = [p.rstrip("_") for p in inspect.signature(handler).parameters][1:]  # drop self
        assert names == list(wire.FROM_DATAPLANE[op]), op


def test_every_request_the_main_thread_sends_a_worker_is_marked_by_it() -> None:
    """A Worker marks what it took and began only for WORKER_REQUESTS (delivery.mjs); a request of
    another op would look never begun and could be sent twice when its Worker ends."""
    node = _node_side()
    requests = node["worker_requests"]
    assert set(requests.values()) <= {"taken", "turn"}
    for op in requests:
        assert node["to_worker"][op][0] == "id", op
    sent = {m for f in JS_DIR.glob("*.mjs") for m in re.findall(r'slot\.request\(\s*"(\w+)"', f.read_text())}
    assert sent and sent <= set(requests), sent - set(requests)
