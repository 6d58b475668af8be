"""The wire between the runtime and an isolate: length-prefixed MessagePack frames.

Each frame is a 4-byte big-endian length and one MessagePack array whose first element names
the message. Values (arguments, results, storage values) are opaque `bytes` here: the isolate
encodes them once with V8 serialization. The Node side of this format is `js/msgpack.mjs`.

Python -> isolate:
    ["init", config]                                       first message; answered by ready/fatal
    ["fetch", id, method, url, [k, v, ...], body]          -> ["fetch_done", id, status, [k, v, ...], body]
    ["call", id, type, name, method, args, chain]          -> ["result", id, ok, bytes | [name, message]]
    ["alarm", id, type, name, when_ms, retry_count]        -> ["result", id, ok, None | [name, message]]
    ["fetchactor", id, type, name, request, chain]         -> ["result", id, ok, [status, headers, body]]
    ["reply", id, ok, payload]                             answers a request the isolate made
    ["ping", n]                                            -> ["pong", n]
isolate -> Python (each answered by ["reply", id, ok, payload]):
    ["get", id, type, name, key]                           payload: bytes | None
    ["list", id, type, name, options]                      payload: [[key, bytes], ...]
    ["getalarm", id, type, name]                           payload: int | None
    ["commit", id, type, name, epoch, writes, consume]     writes: [["put", k, v] | ["delete", k] | ...]
    ["call", id, type, name, method, args, chain]          a stub call to a type another isolate owns
    ["fetchactor", id, type, name, request, chain]
isolate -> Python, unsolicited: ["ready", info], ["fatal", message]
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

import msgpack  # type: ignore[import-untyped]

from telnyx_edge.errors import ProtocolError  # defined with the other errors, re-exported here

_LEN = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024

Message = list[Any]


__all__ = ["MAX_FRAME", "Message", "ProtocolError", "FrameConnection"]


class FrameConnection(asyncio.Protocol):
    """One end of the pipe: frames in via `on_message`, frames out via `send` (batched per tick)."""

    def __init__(self, on_message: Callable[[Message], None], on_lost: Callable[[Exception | None], None]) -> None:
        self._on_message = on_message
        self._on_lost = on_lost
        self._buffer = bytearray()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        # Strings are WTF-8 both ways (the Node side's msgpack.mjs): a lone surrogate in an actor
        # name survives the trip instead of becoming U+FFFD.
        self._packer = msgpack.Packer(use_bin_type=True, unicode_errors="surrogatepass")
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        pos = 0
        end = len(buf)
        unpackb = msgpack.unpackb
        while end - pos >= 4:
            (length,) = _LEN.unpack_from(buf, pos)
            if length > MAX_FRAME:
                raise ProtocolError(f"frame of {length} bytes exceeds the limit")
            if end - pos - 4 < length:
                break
            frame = buf[pos + 4 : pos + 4 + length]
            message = unpackb(frame, raw=False, use_list=True, unicode_errors="surrogatepass")
            pos += 4 + length
            self._on_message(message)
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._on_lost(exc)

    def send(self, message: Message) -> None:
        if self.closed:
            return
        body = self._packer.pack(message)
        self._out.append(_LEN.pack(len(body)) + body)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out, self._out = self._out, []
        if self._transport is not None and not self.closed and out:
            self._transport.write(b"".join(out) if len(out) > 1 else out[0])

    def close(self) -> None:
        self._flush()
        if self._transport is not None:
            self._transport.close()

    def finish(self) -> None:
        """Send what is queued, then end our side; the other side's last frames still arrive.

        A no-op on a pipe the other side already closed (its process died, e.g. from a
        terminal's Ctrl-C sent to the whole process group)."""
        if self.closed or self._transport is None or self._transport.is_closing():
            return
        self._flush()
        try:
            if self._transport.can_write_eof():
                self._transport.write_eof()
            else:
                self._transport.close()
        except (OSError, RuntimeError):
            self._transport.close()
