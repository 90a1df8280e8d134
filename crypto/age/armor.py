"""ASCII armor for age files: strict PEM (c2sp.org/age, "ASCII armor").

Type ``AGE ENCRYPTED FILE``, no PEM headers, canonical padded base64 in 64-column lines,
only the last line short and never empty. Up to :data:`MAX_WHITESPACE` bytes of
whitespace are tolerated before the first line and after the last; lines may end in LF
or CRLF. Everything else is an :class:`~crypto.errors.ArmorError`, mirroring the
reference Go reader that the CCTV vectors were made with.
"""

from __future__ import annotations

import base64
import binascii
from typing import BinaryIO

from crypto.age.format import BYTES_PER_LINE, COLUMNS_PER_LINE, b64decode_strict, wrap_columns
from crypto.age.source import Readable
from crypto.errors import ArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
MAX_WHITESPACE = 1024
_MAX_LINE = MAX_WHITESPACE + len(BEGIN) + 2
_READ_SIZE = 64 * 1024
_LINES_PER_BLOCK = 1024
_FULL_LINE = COLUMNS_PER_LINE + 1


class ArmorReader:
    """Decodes an armored age file from ``src`` as it is read. Does not close ``src``."""

    def __init__(self, src: Readable) -> None:
        self._src = src
        self._buf = b""
        self._pos = 0
        self._started = False
        self._done = False
        self._decoded = bytearray()

    def _fill(self) -> bool:
        chunk = self._src.read(_READ_SIZE)
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0
        return bool(chunk)

    def _line(self) -> bytes:
        """The next line without LF or CRLF; the final line may lack its LF."""
        while (end := self._buf.find(b"\n", self._pos)) < 0:
            if len(self._buf) - self._pos > _MAX_LINE:
                raise ArmorError("armor line too long")
            if not self._fill():
                if self._pos == len(self._buf):
                    raise ArmorError("unexpected end of armor")
                end = len(self._buf)
                break
        line = self._buf[self._pos : end]
        self._pos = end + 1
        return line.removesuffix(b"\r")

    def _start(self) -> None:
        skipped = 0
        while not (line := self._line()).strip():
            skipped += len(line) + 1
            if skipped > MAX_WHITESPACE:
                raise ArmorError("too much leading whitespace")
        if line != BEGIN:
            raise ArmorError("input is neither a binary age file nor armored")
        self._started = True

    def _finish(self) -> None:
        self._done = True
        trailing = self._buf[self._pos :]
        while len(trailing) < MAX_WHITESPACE and (chunk := self._src.read(MAX_WHITESPACE)):
            trailing += chunk
        if trailing.strip():
            raise ArmorError("trailing data after the armor")
        if len(trailing) >= MAX_WHITESPACE:
            raise ArmorError("too much trailing whitespace")

    def _decode_line(self) -> bytes:
        line = self._line()
        if line == END:
            self._finish()
            return b""
        if not line:
            raise ArmorError("empty line in armor")
        if len(line) > COLUMNS_PER_LINE:
            raise ArmorError("armor line too long")
        data = b64decode_strict(line, padded=True)
        if data is None:
            raise ArmorError("invalid base64 in armor")
        if len(data) < BYTES_PER_LINE:
            if self._line() != END:
                raise ArmorError("armor must end after a short line")
            self._finish()
        return data

    def _decode_full_lines(self) -> bool:
        """Fast path: decode a run of full 64-column LF lines at once, if that is what's next.

        Returns False, consuming nothing, for anything else (a short or CRLF line, padding,
        END, an error), which :meth:`_decode_line` then handles one line at a time.
        """
        lines = min((len(self._buf) - self._pos) // _FULL_LINE, _LINES_PER_BLOCK)
        block = self._buf[self._pos : self._pos + lines * _FULL_LINE]
        if not lines or block[COLUMNS_PER_LINE::_FULL_LINE] != b"\n" * lines:
            return False
        joined = block.replace(b"\n", b"")
        # Every line full and unpadded means every 4-character group is canonical.
        if len(joined) != lines * COLUMNS_PER_LINE or b"=" in joined:
            return False
        try:
            self._decoded += binascii.a2b_base64(joined, strict_mode=True)
        except binascii.Error:
            return False
        self._pos += len(block)
        return True

    def read(self, size: int, /) -> bytes:
        """Up to ``size`` decoded bytes; empty at the END line. Raises ArmorError."""
        if not self._started:
            self._start()
        while len(self._decoded) < size and not self._done:
            if not self._decode_full_lines():
                self._decoded += self._decode_line()
        out = bytes(self._decoded[:size])
        del self._decoded[:size]
        return out


class ArmorWriter:
    """Encodes what is written to it as armor into ``dst``.

    The caller must call :meth:`close` to write the last line and the END line;
    ``dst`` itself is left open.
    """

    def __init__(self, dst: BinaryIO) -> None:
        self._dst = dst
        self._pending = bytearray()
        dst.write(BEGIN + b"\n")

    def _emit(self, data: bytes | bytearray) -> None:
        encoded = base64.b64encode(data)
        self._dst.write(b"\n".join(wrap_columns(encoded)) + b"\n")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._pending += data
        block = BYTES_PER_LINE * _LINES_PER_BLOCK
        if len(self._pending) >= block:
            whole = len(self._pending) - len(self._pending) % block
            self._emit(self._pending[:whole])
            del self._pending[:whole]
        return len(data)

    def close(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending.clear()
        self._dst.write(END + b"\n")
