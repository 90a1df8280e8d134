"""Write-behind: hand filled buffers to a background thread that writes them in order.

The ChaCha20-Poly1305 ``*_into`` calls and file writes both release the GIL, so writing
segment *i* while sealing or opening segment *i+1* uses a second core. Only the calling
thread ever produces buffers, so output order is the submission order, and a buffer is
submitted only once its contents may be released (for opening: once authenticated).

The thread starts at the second submission, so inputs of one segment never start one.
:meth:`WriteBehind.close` waits until every submitted buffer is written; it runs even when
the producer fails, so ``dst`` then holds exactly what was submitted.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from types import TracebackType
from typing import BinaryIO

from crypto.age.source import Writable

_DEPTH = 3


class WriteBehind:
    """Writes buffers of ``size`` bytes to ``dst`` in order, behind the caller's back.

    Use as a context manager. ``dst`` is not closed. An error raised by ``dst.write`` is
    re-raised in the calling thread at the next :meth:`buffer`, :meth:`submit` or at exit.
    """

    def __init__(self, dst: BinaryIO | Writable, size: int) -> None:
        self._dst = dst
        self._size = size
        self._allocated = 0
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._full: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._submitted = 0
        self._error: BaseException | None = None

    def _raise_pending(self) -> None:
        if self._error is not None:
            raise self._error

    def buffer(self) -> bytearray:
        """A buffer of ``size`` bytes to fill; blocks while all of them are being written."""
        self._raise_pending()
        if self._allocated < _DEPTH and self._free.empty():
            self._allocated += 1
            return bytearray(self._size)
        return self._free.get()

    def submit(self, buf: bytearray, length: int) -> None:
        """Queue ``buf[:length]`` to be written after everything submitted before it."""
        self._raise_pending()
        self._submitted += 1
        if self._submitted == 1:
            self._dst.write(memoryview(buf)[:length])
            self._free.put(buf)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="age-write", daemon=True)
            self._thread.start()
        self._full.put((buf, length))

    def _run(self) -> None:
        while (item := self._full.get()) is not None:
            buf, length = item
            if self._error is None:
                try:
                    self._dst.write(memoryview(buf)[:length])
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc
            self._free.put(buf)  # keep buffers cycling so the producer never blocks forever

    def close(self) -> None:
        """Wait for every submitted buffer to be written; re-raise a write error."""
        if self._thread is not None:
            self._full.put(None)
            self._thread.join()
            self._thread = None
        self._raise_pending()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # Flush what was submitted; the producer's error is the one to report.
        with contextlib.suppress(Exception):
            self.close()
