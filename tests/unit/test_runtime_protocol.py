"""The frame format both sides speak: Python's msgpack and the isolate's js/msgpack.mjs agree."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from typing import Any

import msgpack
import pytest

from telnyx_edge.runtime.jsmodule import JS_DIR
from telnyx_edge.runtime.protocol import FrameConnection

SAMPLES: list[Any] = [
    None, True, False, 0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 1_795_592_776_247,
    2**53 - 1, -1, -32, -33, -128, -129, -(2**31), -(2**31) - 1, -(2**53) + 1, 0.5, -2.25, 1e300,
    "", "a", "x" * 31, "x" * 32, "x" * 255, "x" * 256, "x" * 70_000, "héllo ✓ 𝄞",
    "a\ud800", "\udfff", "x\udc00y\ud83d" * 20, "\udbff𝄞\ud800",  # lone surrogates (actor names may hold them)
    b"", b"\x00\xff", b"y" * 255, b"y" * 256, b"y" * 70_000,
    [], list(range(15)), list(range(16)), list(range(70_000)), {"k": "v"},
    {f"k{i}": i for i in range(16)}, ["commit", 7, "Account", "alice", 16777216, [["put", "balance", b"\x01"]], None],
]

ECHO = """
import { encodeFrame, FrameReader } from "MSGPACK_URL";
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const out = [];
  new FrameReader((v) => out.push(encodeFrame(v))).push(Buffer.concat(chunks));
  process.stdout.write(Buffer.concat(out));
});
"""


def _frame(value: Any) -> bytes:
    body = msgpack.packb(value, use_bin_type=True, unicode_errors="surrogatepass")
    return len(body).to_bytes(4, "big") + body


def _unframe(data: bytes) -> list[Any]:
    out = []
    pos = 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        out.append(msgpack.unpackb(data[pos + 4 : pos + 4 + length], raw=False, unicode_errors="surrogatepass"))
        pos += 4 + length
    return out


@pytest.mark.skipif(shutil.which("node") is None, reason="node is required")
def test_node_side_echoes_every_value_exactly() -> None:
    script = ECHO.replace("MSGPACK_URL", (JS_DIR / "msgpack.mjs").as_uri())
    result = subprocess.run(
        ["node", "--input-type=module", "-e", script], input=b"".join(_frame(v) for v in SAMPLES),
        capture_output=True, timeout=60, check=True,
    )
    echoed = _unframe(result.stdout)
    assert len(echoed) == len(SAMPLES)
    for sent, back in zip(SAMPLES, echoed):
        assert back == sent and type(back) is type(sent), sent if not isinstance(sent, (bytes, str, list)) else type(sent)


def test_python_side_reassembles_split_frames() -> None:
    received: list[Any] = []

    async def scenario() -> None:
        conn = FrameConnection(received.append, lambda exc: None)
        data = b"".join(_frame(v) for v in SAMPLES[:20])
        for i in range(0, len(data), 3):  # arbitrary chunking
            conn.data_received(data[i : i + 3])

    asyncio.run(scenario())
    assert received == SAMPLES[:20]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
