"""Bounded capture of one output pipe.

A program may print gigabytes; the host keeps at most `cap` bytes and drains the rest
into nothing, so the child never blocks on a full pipe and the host's memory stays
bounded. A short tail of everything seen is kept apart, because Node reports heap
exhaustion at the very end of stderr, possibly after the cap was reached.
"""

from __future__ import annotations

import asyncio
import codecs

from turnout.backend import truncation_marker

__all__ = ["CappedSink"]

TAIL_BYTES = 4096


class CappedSink(asyncio.Protocol):
    """Receives one pipe's bytes from the event loop; `closed` resolves at end of file."""

    def __init__(self, name: str, cap: int) -> None:
        self.name = name
        self.cap = cap
        self.kept = bytearray()
        self.tail = b""
        self.total = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.total += len(data)
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        self.tail = (self.tail + data[-TAIL_BYTES:])[-TAIL_BYTES:]

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    @property
    def truncated(self) -> bool:
        return self.total > self.cap

    def text(self) -> str:
        """The kept bytes as text, with a visible marker when output was cut.

        A multi-byte character split by the cap is dropped rather than shown as U+FFFD.
        """
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = decoder.decode(bytes(self.kept), final=not self.truncated)
        if self.truncated:
            text += truncation_marker(self.name, self.cap)
        return text

    def tail_text(self) -> str:
        return self.tail.decode("utf-8", errors="replace")
