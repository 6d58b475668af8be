"""The wire's two tables (runtime/wire.py, runtime/js/wire.mjs) agree, and every handler on
each side takes exactly its message's fields, by name and in order."""

from __future__ import annotations

import inspect
import json
import subprocess

from telnyx_edge.runtime import isolate, wire
from telnyx_edge.runtime.jsmodule import JS_DIR

_SCRIPT = """
const wire = await import(process.argv[1]);
const host = await import(process.argv[2]);
const params = (fn) => {
  const src = fn.toString();
  return src.slice(src.indexOf("(") + 1, src.indexOf(")")).split(",").map((p) => p.trim()).filter(Boolean);
};
const handlers = Object.fromEntries(Object.entries(host.HANDLERS).map(([op, fn]) => [op, params(fn).slice(2)]));
console.log(JSON.stringify({ to_isolate: wire.TO_ISOLATE, to_python: wire.TO_PYTHON, stats: wire.STATS_ROW, handlers }));
"""


def _node_side() -> dict[str, object]:
    out = subprocess.run(
        ["node", "--input-type=module", "-e", _SCRIPT, "--", (JS_DIR / "wire.mjs").as_uri(), (JS_DIR / "host.mjs").as_uri()],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_the_two_tables_agree() -> None:
    node = _node_side()
    assert node["to_isolate"] == {op: list(fields) for op, fields in wire.TO_ISOLATE.items()}
    assert node["to_python"] == {op: list(fields) for op, fields in wire.TO_PYTHON.items()}
    assert node["stats"] == list(wire.STATS_ROW)


def test_node_handlers_take_the_fields_of_their_message() -> None:
    handlers = _node_side()["handlers"]
    assert isinstance(handlers, dict)
    # `init` is consumed before the bundle loads; every other message has its handler.
    assert set(handlers) == set(wire.TO_ISOLATE) - {"init"}
    for op, names in handlers.items():
        assert names == list(wire.TO_ISOLATE[op]), op


def test_python_handlers_take_the_fields_of_their_message() -> None:
    assert set(isolate._HANDLERS) == set(wire.TO_PYTHON)
    for op, handler in isolate._HANDLERS.items():
        names = [p.rstrip("_") for p in inspect.signature(handler).parameters][1:]  # drop self
        assert names == list(wire.TO_PYTHON[op]), op
