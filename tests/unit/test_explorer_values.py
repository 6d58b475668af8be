"""Typed JSON <-> stored values (js/explorer-values.mjs): every kind the codec stores round-trips,
and what cannot be read is refused naming the path."""

from __future__ import annotations

import json
import subprocess

from telnyx_edge.runtime.jsmodule import JS_DIR

SCRIPT = """
import { fromTyped, toTyped, typeName } from "%s";
import { isDeepStrictEqual } from "node:util";
const values = [
  1, -2.5, "s", true, null, undefined, NaN, Infinity, -0, 12345678901234567890n,
  new Date("2026-01-02T03:04:05.000Z"), new Map([["a", new Date(0)], [1, new Set([1n])]]),
  new Set(["x", 2]), new Uint8Array([0, 1, 255]), new Int32Array([7, -7]), /a+b/gi,
  [1, [2, { type: "card", n: 1 }]], { nested: { m: new Map() } },
];
const out = { roundtrip: values.map((v) => isDeepStrictEqual(fromTyped(JSON.parse(JSON.stringify(toTyped(v)))), v)) };
out.types = values.map(typeName);
out.errors = [
  { type: "Date", value: "soon" }, { type: "Frob" }, { type: "Map", entries: [[1]] },
  { type: "BigInt", value: "1.5" }, { a: [{ type: "bytes", base64: "!!" }] },
].map((j) => { try { fromTyped(j); return null; } catch (e) { return e.message; } });
out.tagged = toTyped({ type: "card" });
console.log(JSON.stringify(out));
"""


def test_typed_values_round_trip_and_bad_ones_name_the_path() -> None:
    script = SCRIPT % (JS_DIR / "explorer-values.mjs").as_uri()
    done = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30, check=True)
    out = json.loads(done.stdout)
    assert all(out["roundtrip"]), out["roundtrip"]
    assert out["types"][10:14] == ["Date", "Map", "Set", "bytes"] and out["types"][9] == "BigInt"
    assert out["tagged"] == {"type": "Object", "value": {"type": "card"}}
    soon, frob, pair, bigint, b64 = out["errors"]
    assert soon.startswith("value: a Date needs")
    assert "unknown type \"Frob\"" in frob
    assert pair.startswith("value.entries[0]: each entry is a [key, value] pair")
    assert "is not an integer" in bigint
    assert b64.startswith("value.a[0]: bytes need")
