"""Bounded collection of streamed output, with the same truncation marker on every backend."""

from __future__ import annotations

from turnout.backend import truncation_marker

__all__ = ["CappedText"]


class CappedText:
    """Keeps the first `cap` bytes (UTF-8) of a stream; drops the rest and says so."""

    def __init__(self, cap: int, name: str) -> None:
        self._cap = cap
        self._name = name
        self._parts: list[str] = []
        self._size = 0
        self.truncated = False

    def add(self, chunk: str) -> None:
        if self.truncated:
            return
        size = len(chunk.encode("utf-8", "surrogatepass"))
        if self._size + size <= self._cap:
            self._parts.append(chunk)
            self._size += size
            return
        room = self._cap - self._size
        kept = chunk.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
        self._parts.append(kept)
        self._size = self._cap
        self.truncated = True

    @property
    def text(self) -> str:
        text = "".join(self._parts)
        if self.truncated:
            text += truncation_marker(self._name, self._cap)
        return text
