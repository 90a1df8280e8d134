"""The age payload: a 16-byte nonce, then STREAM over ChaCha20-Poly1305 (c2sp.org/age, "Payload").

The payload key is HKDF-SHA256(file key, salt = nonce, info = "payload"). Plaintext is cut
into 64 KiB chunks; chunk *i* is sealed under the 12-byte nonce ``i`` (11 bytes big-endian)
followed by a flag byte that is 1 only on the last chunk. Only the last chunk may be
short, and it may be empty only when it is the only chunk.

For speed, I/O goes in segments of :data:`SEGMENT_CHUNKS` chunks (one large read, one
large write) into preallocated buffers, the AEAD works in place with ``*_into``, and writes
happen behind on another thread (:mod:`.pipeline`). Memory stays bounded: a few segments.
Reading mirrors the reference Go reader chunk by chunk, which the CCTV vectors pin down
(see ``tests/vectors/age/README.md``): a short read is the final chunk; a full chunk is
tried as non-final, then as final; data after the final chunk and input ending without one
are payload failures.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto.age.pipeline import WriteBehind
from crypto.age.primitives import FILE_KEY_SIZE, TAG_SIZE, hkdf_sha256
from crypto.age.readahead import ReadAhead
from crypto.age.source import Readable, Source, Writable
from crypto.errors import HeaderError, KeyFormatError, PayloadError

PAYLOAD_LABEL = b"payload"
NONCE_SIZE = 16
CHUNK_SIZE = 64 * 1024
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
SEGMENT_CHUNKS = 16
_PLAIN_SEGMENT = SEGMENT_CHUNKS * CHUNK_SIZE
_SEALED_SEGMENT = SEGMENT_CHUNKS * ENCRYPTED_CHUNK_SIZE
_COUNTER_SIZE = 11
_LAST = b"\x01"
_NOT_LAST = b"\x00"


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """The STREAM key for ``file_key`` and the payload's 16-byte ``nonce``.

    Raises KeyFormatError unless ``file_key`` is 16 bytes.
    """
    if len(file_key) != FILE_KEY_SIZE:
        raise KeyFormatError("a file key is 16 bytes")
    return hkdf_sha256(file_key, nonce, PAYLOAD_LABEL)


def _nonce(counter: int, flag: bytes) -> bytes:
    return counter.to_bytes(_COUNTER_SIZE, "big") + flag


def _seal_segment(
    aead: ChaCha20Poly1305, plain: memoryview, out: bytearray, counter: int, *, final: bool
) -> tuple[int, int]:
    """Seal ``plain`` chunk by chunk into ``out``; returns (bytes written, next counter).

    Only in a ``final`` segment is the last chunk flagged; an empty final segment (empty
    input) still yields its one empty chunk.
    """
    sealed = memoryview(out)
    size, pos, written = len(plain), 0, 0
    while True:
        end = min(pos + CHUNK_SIZE, size)
        flag = _LAST if final and end == size else _NOT_LAST
        target = sealed[written : written + end - pos + TAG_SIZE]  # *_into wants exact sizes
        aead.encrypt_into(_nonce(counter, flag), plain[pos:end], None, target)
        counter += 1
        written += end - pos + TAG_SIZE
        pos = end
        if pos >= size:
            return written, counter


def seal_payload(
    src: BinaryIO | Readable,
    dst: BinaryIO | Writable,
    file_key: bytes,
    *,
    nonce: bytes | None = None,
) -> None:
    """Write the payload of ``src`` (nonce + STREAM) under ``file_key`` to ``dst``.

    Reads ``src`` to its end. Neither stream is closed. ``nonce`` is drawn fresh unless
    given: only a client re-sealing the same plaintext byte for byte, to resume an upload,
    passes the nonce it drew the first time (reusing one with other plaintext under the
    same file key would break confidentiality). Raises KeyFormatError unless it is 16 bytes.
    """
    if nonce is None:
        nonce = os.urandom(NONCE_SIZE)
    elif len(nonce) != NONCE_SIZE:
        raise KeyFormatError("a payload nonce is 16 bytes")
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    dst.write(nonce)
    counter = 0
    with (
        ReadAhead(Source(src), _PLAIN_SEGMENT) as reader,
        WriteBehind(dst, _SEALED_SEGMENT) as writer,
    ):
        buf, n = reader.next()
        while True:
            # A segment is final when it is short, or when nothing follows it.
            after = reader.next() if n == _PLAIN_SEGMENT else None
            final = after is None or after[1] == 0
            out = writer.buffer()
            written, counter = _seal_segment(aead, memoryview(buf)[:n], out, counter, final=final)
            writer.submit(out, written)
            reader.release(buf)
            if final or after is None:
                return
            buf, n = after


def _open_chunk(
    aead: ChaCha20Poly1305, counter: int, chunk: memoryview, out: memoryview, *, short: bool
) -> bool:
    """Open one chunk into ``out`` (exactly its plaintext size); returns whether it is last.

    A short chunk can only be the last; a full one is tried as non-final, then as final.
    """
    try:
        if not short:
            try:
                aead.decrypt_into(_nonce(counter, _NOT_LAST), chunk, None, out)
                return False
            except InvalidTag:
                pass  # A full-length chunk may still be the final one.
        aead.decrypt_into(_nonce(counter, _LAST), chunk, None, out)
        return True
    except (InvalidTag, ValueError):
        raise PayloadError("a payload chunk failed to authenticate") from None


class _Opener:
    """The state of one STREAM being opened: the AEAD and the next chunk counter."""

    def __init__(self, key: bytes) -> None:
        self.aead = ChaCha20Poly1305(key)
        self.counter = 0
        self.done = False
        self.released = 0

    def open_segment(self, sealed: memoryview, out: bytearray, *, at_eof: bool) -> int:
        """Open the chunks of one segment into ``out``; returns the plaintext length.

        On PayloadError, ``out[:self.released]`` holds the chunks that authenticated.
        """
        plain = memoryview(out)
        pos, self.released = 0, 0
        while pos < len(sealed):
            chunk = sealed[pos : pos + ENCRYPTED_CHUNK_SIZE]
            short = len(chunk) < ENCRYPTED_CHUNK_SIZE
            if len(chunk) < TAG_SIZE or (short and self.counter and len(chunk) == TAG_SIZE):
                raise PayloadError("payload chunk too short, or an empty final chunk")
            size = len(chunk) - TAG_SIZE
            target = plain[self.released : self.released + size]
            last = _open_chunk(self.aead, self.counter, chunk, target, short=short)
            self.counter, self.released, pos = (
                self.counter + 1,
                self.released + size,
                pos + len(chunk),
            )
            if last:
                self.done = True
                if pos < len(sealed):
                    raise PayloadError("trailing data after the final chunk")
                return self.released
        if at_eof:
            raise PayloadError("payload truncated: no final chunk")
        return self.released


def open_stream(source: Source, dst: BinaryIO | Writable, key: bytes) -> None:
    """Decrypt STREAM chunks from ``source`` into ``dst``, releasing only authenticated ones.

    On PayloadError, ``dst`` holds exactly the chunks that authenticated before the failure.
    """
    opener = _Opener(key)
    buf = bytearray(_SEALED_SEGMENT)
    view = memoryview(buf)
    with WriteBehind(dst, _PLAIN_SEGMENT) as writer:
        while not opener.done:
            n = source.read_full(view)
            out = writer.buffer()
            try:
                opener.open_segment(view[:n], out, at_eof=n < len(view))
            finally:
                # Whatever authenticated is released, in order, even when a later chunk
                # fails: the spec allows it and the CCTV vectors expect it.
                writer.submit(out, opener.released)
        if source.read(1):
            raise PayloadError("trailing data after the final chunk")


def open_payload(
    src: BinaryIO | Readable | Source, dst: BinaryIO | Writable, file_key: bytes
) -> None:
    """Read the payload nonce and STREAM from ``src`` and write the plaintext to ``dst``.

    A missing or short nonce is a HeaderError (the CCTV vectors count it as part of the
    header); a bad chunk is a PayloadError. Neither stream is closed.
    """
    source = src if isinstance(src, Source) else Source(src)
    nonce = source.read(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise HeaderError("missing or short payload nonce")
    open_stream(source, dst, payload_key(file_key, nonce))
