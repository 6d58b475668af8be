"""A response body the isolate streams (`fetch_head`, `fetch_chunk`..., `fetch_end`; see wire.py).

The ingress iterates it and acknowledges each chunk once the HTTP connection took it; the
isolate keeps at most a window of unacknowledged bytes in flight (js/streams.mjs), so a slow
client slows the producer. Cancelling it (the client went away, or a drain ran out) tells the
isolate to cancel the body's reader.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

STREAM_DRAIN_S = 5.0
"""How long a reload or a stop lets open response streams run before it closes them."""

_END = object()


class StreamCut(Exception):
    """The stream ended early: the isolate's body failed, the isolate exited, or a drain ran out."""


class ResponseStream:
    def __init__(self, id_: int, send: Callable[[list[Any]], None], on_end: Callable[[], object] = lambda: None) -> None:
        self.id = id_
        self._send = send
        self._on_end = on_end
        self._chunks: asyncio.Queue[object] = asyncio.Queue()
        self.ended = asyncio.Event()
        self.error: str | None = None

    # -- from the isolate ------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if not self.ended.is_set():
            self._chunks.put_nowait(data)

    def finish(self, error: str | None) -> None:
        if self.ended.is_set():
            return
        self.error = error
        self.ended.set()
        self._chunks.put_nowait(_END)
        self._on_end()

    # -- to the ingress --------------------------------------------------------------------

    async def chunks(self) -> AsyncIterator[bytes]:
        """Each chunk as it arrives; raises StreamCut if the body ended with an error."""
        while True:
            item = await self._chunks.get()
            if item is _END:
                if self.error is not None:
                    raise StreamCut(self.error)
                return
            assert isinstance(item, bytes)
            yield item

    def taken(self, count: int) -> None:
        """The connection took `count` bytes: the isolate may send that many more."""
        if not self.ended.is_set():
            self._send(["fetch_ack", self.id, count])

    def cancel(self, reason: str) -> None:
        """Stop the body here and in the isolate."""
        if not self.ended.is_set():
            self._send(["fetch_cancel", self.id])
            self.finish(reason)
