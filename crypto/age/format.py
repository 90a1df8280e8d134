"""The age v1 header: stanzas, strict parsing and canonical encoding (c2sp.org/age, "Header").

Parsing is strict so that every accepted header has exactly one encoding: the MAC is then
computed over :func:`marshal_without_mac` of the parsed header, which equals the bytes that
were read. Lines are bounded (:data:`MAX_LINE_LENGTH`) and so is the whole header
(:data:`MAX_HEADER_SIZE`), so an endless stream of garbage fails promptly and in bounded
memory.
"""

from __future__ import annotations

import base64
import io
from typing import NamedTuple

from crypto.age.source import Readable
from crypto.errors import HeaderError

INTRO = b"age-encryption.org/v1"
STANZA_PREFIX = b"->"
FOOTER_PREFIX = b"---"
COLUMNS_PER_LINE = 64
BYTES_PER_LINE = COLUMNS_PER_LINE // 4 * 3
MAC_SIZE = 32

#: Longest header line accepted. A hybrid stanza line is about 1.5 KiB; grease stanzas
#: and future types get ample room.
MAX_LINE_LENGTH = 16 * 1024
#: Largest header accepted: about 650 hybrid or 5000 X25519 recipients. Bounds the memory
#: and the parsing time (about a second) that a hostile header can cost.
MAX_HEADER_SIZE = 1024 * 1024

_READ_SIZE = 4096
_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VCHAR = bytes(range(0x21, 0x7F))


def b64decode_strict(text: bytes, *, padded: bool) -> bytes | None:
    """Decode canonical standard base64, or return ``None``.

    Unpadded (the header) or padded (the armor); any other character, a wrong length or
    non-zero trailing bits make the encoding non-canonical and the result ``None``.
    """
    if not text:
        return b""
    body = text.rstrip(b"=") if padded else text
    if padded and (len(text) % 4 or len(text) - len(body) > 2):
        return None
    if len(body) % 4 == 1 or body.translate(None, _B64_CHARS):
        return None
    data = base64.b64decode(body + b"=" * (-len(body) % 4))
    if b64encode(data, padded=padded) != text:
        return None
    return data


def b64encode(data: bytes, *, padded: bool = False) -> bytes:
    """Standard base64, without padding unless ``padded``."""
    encoded = base64.b64encode(data)
    return encoded if padded else encoded.rstrip(b"=")


def wrap_columns(encoded: bytes) -> list[bytes]:
    """``encoded`` cut into lines of :data:`COLUMNS_PER_LINE` characters (the last shorter)."""
    return [encoded[i : i + COLUMNS_PER_LINE] for i in range(0, len(encoded), COLUMNS_PER_LINE)]


def _decode_field(text: bytes) -> bytes:
    data = b64decode_strict(text, padded=False)
    if data is None:
        raise HeaderError("invalid base64 in header")
    return data


def decode_arg(arg: str) -> bytes:
    """Decode a stanza argument holding unpadded canonical base64 (raises HeaderError)."""
    return _decode_field(arg.encode("ascii"))


class Stanza(NamedTuple):
    """One recipient stanza: ``-> type args…`` and its body."""

    type: str
    args: tuple[str, ...]
    body: bytes

    def marshal(self) -> bytes:
        """The stanza's canonical lines, each ending in ``\\n``."""
        line = b" ".join([STANZA_PREFIX, *(a.encode("ascii") for a in (self.type, *self.args))])
        encoded = b64encode(self.body)
        # The last body line is always short, so an exact multiple of 64 columns gets
        # an extra empty line (spec: "the last line MUST be short").
        lines = wrap_columns(encoded)
        if len(encoded) % COLUMNS_PER_LINE == 0:
            lines.append(b"")
        return b"\n".join([line, *lines]) + b"\n"


class Header(NamedTuple):
    """A parsed header: its stanzas and the 32-byte MAC from the ``---`` line."""

    stanzas: tuple[Stanza, ...]
    mac: bytes

    def marshal_without_mac(self) -> bytes:
        """The bytes the header MAC covers: everything up to and including ``---``."""
        parts = [INTRO + b"\n", *(s.marshal() for s in self.stanzas), FOOTER_PREFIX]
        return b"".join(parts)

    def marshal(self) -> bytes:
        """The complete header, ``--- <mac>\\n`` line included."""
        return self.marshal_without_mac() + b" " + b64encode(self.mac) + b"\n"


class LineReader:
    """Reads bounded ``\\n``-terminated lines from a stream, keeping what it over-read.

    After the header is parsed, :meth:`rest` returns the bytes already read past it, which
    belong to the payload. The caller keeps ownership of ``src``.
    """

    def __init__(self, src: Readable) -> None:
        self._src = src
        self._buf = bytearray()
        self._pos = 0
        self._total = 0

    def readline(self) -> bytes:
        """The next line without its ``\\n``; HeaderError on EOF, long line or huge header."""
        start = self._pos
        while (end := self._buf.find(b"\n", start)) < 0:
            if len(self._buf) - self._pos > MAX_LINE_LENGTH:
                raise HeaderError("header line too long")
            start = len(self._buf)
            chunk = self._src.read(_READ_SIZE)
            if not chunk:
                raise HeaderError("unexpected end of header")
            self._buf += chunk
        line = bytes(self._buf[self._pos : end])
        if len(line) > MAX_LINE_LENGTH:
            raise HeaderError("header line too long")
        self._total += len(line) + 1
        if self._total > MAX_HEADER_SIZE:
            raise HeaderError("header too large")
        self._pos = end + 1
        return line

    def rest(self) -> bytes:
        """Bytes read from the stream beyond the last line returned."""
        return bytes(self._buf[self._pos :])


def _split_args(line: bytes) -> tuple[bytes, list[str]]:
    prefix, *args = line.split(b" ")
    for arg in args:
        # Arguments are non-empty strings of VCHAR (0x21-0x7E).
        if not arg or arg.translate(None, _VCHAR):
            raise HeaderError("invalid stanza argument")
    return prefix, [a.decode("ascii") for a in args]


def _parse_body(lines: LineReader) -> bytes:
    body = bytearray()
    while True:
        line = lines.readline()
        if len(line) > COLUMNS_PER_LINE:
            raise HeaderError("stanza body line too long")
        body += _decode_field(line)
        # Only the last line of a body is short, and it is always present.
        if len(line) < COLUMNS_PER_LINE:
            return bytes(body)


def _parse_footer(line: bytes) -> bytes:
    prefix, args = _split_args(line)
    if prefix != FOOTER_PREFIX or len(args) != 1:
        raise HeaderError("malformed header MAC line")
    mac = _decode_field(args[0].encode("ascii"))
    if len(mac) != MAC_SIZE:
        raise HeaderError("malformed header MAC line")
    return mac


def parse(lines: LineReader) -> Header:
    """Parse one header from ``lines``. Raises HeaderError; never checks the MAC."""
    if lines.readline() != INTRO:
        raise HeaderError("unsupported age version or not an age file")
    stanzas: list[Stanza] = []
    while True:
        line = lines.readline()
        if line.startswith(FOOTER_PREFIX):
            if not stanzas:
                raise HeaderError("header has no stanzas")
            return Header(tuple(stanzas), _parse_footer(line))
        prefix, args = _split_args(line)
        if prefix != STANZA_PREFIX or not args:
            raise HeaderError("malformed stanza")
        stanzas.append(Stanza(args[0], tuple(args[1:]), _parse_body(lines)))


def parse_bytes(header: bytes) -> Header:
    """Parse a complete header held in memory; trailing bytes are a HeaderError."""
    lines = LineReader(io.BytesIO(header))
    parsed = parse(lines)
    if lines.rest():
        raise HeaderError("trailing data after header")
    return parsed
