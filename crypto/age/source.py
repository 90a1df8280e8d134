"""A readable source with bytes pushed back in front of it.

Parsing the header reads ahead of its last line, so the payload starts with those bytes
and continues with the stream. The STREAM reader wants ``readinto`` with full reads, which
not every ``BinaryIO`` offers and which pipes may satisfy only in part; this class hides
both. It never closes the wrapped stream.
"""

from __future__ import annotations

from typing import BinaryIO, Protocol


class Readable(Protocol):
    """Anything with ``read(size)`` returning bytes, empty only at end of input."""

    def read(self, size: int, /) -> bytes: ...


class Writable(Protocol):
    """Anything with ``write(data)``, such as a binary file or an armor writer."""

    def write(self, data: memoryview | bytes, /) -> object: ...


class Source:
    """``src`` preceded by ``prefix``."""

    def __init__(self, src: BinaryIO | Readable, prefix: bytes = b"") -> None:
        self._src = src
        self._prefix = memoryview(prefix)
        self._readinto = getattr(src, "readinto", None)

    def _readinto_once(self, view: memoryview) -> int:
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        if self._readinto is not None:
            n = self._readinto(view)
            return n or 0
        data = self._src.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Read at least one byte into ``buf`` unless at end of input (0)."""
        return self._readinto_once(memoryview(buf))

    def read_full(self, buf: bytearray | memoryview) -> int:
        """Fill ``buf`` from the source; return the count, short only at end of input."""
        view = memoryview(buf)
        total = 0
        while total < len(view):
            n = self._readinto_once(view[total:])
            if n <= 0:
                break
            total += n
        return total

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes, short only at end of input."""
        buf = bytearray(size)
        n = self.read_full(buf)
        return bytes(buf[:n])
