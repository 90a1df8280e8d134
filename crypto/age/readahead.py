"""Read-ahead: a background thread fills segment buffers from the source, in order.

Sealing reads plaintext, encrypts it and writes ciphertext. `pipeline.WriteBehind` moves
the writes off the calling thread; this module does the same for the reads, so on two
cores the calling thread does little but encrypt (``readinto`` and the ``*_into`` AEAD
calls release the GIL).

The first segment is read on the caller's thread, and a thread starts only if that
segment came back full, so small inputs (most reports) never start one. The thread stops
after the first short read, which is the end of input.
"""

from __future__ import annotations

import queue
import threading
from types import TracebackType

from crypto.age.source import Source

# Two buffers are held by the caller at once (the segment and the one after it, to tell
# whether the segment is the last), and one more lets the reader run ahead.
_DEPTH = 3


class ReadAhead:
    """Yields ``(buffer, length)`` segments of ``size`` bytes read from ``source`` in order.

    Use as a context manager. A segment shorter than ``size`` is the last one. The caller
    hands each buffer back with :meth:`release` once it is done with it. An error raised
    by the source is re-raised in the calling thread by :meth:`next`.
    """

    def __init__(self, source: Source, size: int) -> None:
        self._source = source
        self._size = size
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._full: queue.SimpleQueue[tuple[bytearray, int] | BaseException] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._first = True

    def next(self) -> tuple[bytearray, int]:
        """The next segment; after a short one, every further call returns a 0-length one."""
        if self._first:
            self._first = False
            buf = bytearray(self._size)
            n = self._source.read_full(buf)
            if n == self._size:
                for _ in range(_DEPTH - 1):
                    self._free.put(bytearray(self._size))
                self._thread = threading.Thread(target=self._run, name="age-read", daemon=True)
                self._thread.start()
            return buf, n
        if self._thread is None:
            return bytearray(0), 0
        item = self._full.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def release(self, buf: bytearray) -> None:
        """Give a buffer back for reuse."""
        if self._thread is not None and len(buf) == self._size:
            self._free.put(buf)

    def _run(self) -> None:
        while not self._stop.is_set():
            buf = self._free.get()
            if self._stop.is_set():
                return
            try:
                n = self._source.read_full(buf)
            except BaseException as exc:  # handed to the caller's thread
                self._full.put(exc)
                return
            self._full.put((buf, n))
            if n < self._size:
                return

    def close(self) -> None:
        """Stop the reader and wait for it (after at most the read in progress)."""
        if self._thread is not None:
            self._stop.set()
            self._free.put(bytearray(0))  # wake a reader waiting for a buffer
            self._thread.join()
            self._thread = None

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
