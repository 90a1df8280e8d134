"""The age payload: a 16-byte nonce, then STREAM over ChaCha20-Poly1305 (c2sp.org/age, "Payload").

The payload key is HKDF-SHA256(file key, salt = nonce, info = "payload"). Plaintext is cut
into 64 KiB chunks; chunk *i* is sealed under the 12-byte nonce ``i`` (11 bytes big-endian)
followed by a flag byte that is 1 only on the last chunk. Only the last chunk may be
short, and it may be empty only when it is the only chunk.

Both directions stream chunk by chunk with preallocated buffers and ``*_into`` AEAD calls,
so memory stays bounded and the hot loop allocates nothing large. Reading mirrors the
reference Go reader, which the CCTV vectors pin down (see ``tests/vectors/age/README.md``).
"""

from __future__ import annotations

import os
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto.age.primitives import FILE_KEY_SIZE, TAG_SIZE, hkdf_sha256
from crypto.age.source import Source
from crypto.errors import HeaderError, PayloadError

PAYLOAD_LABEL = b"payload"
NONCE_SIZE = 16
CHUNK_SIZE = 64 * 1024
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
_COUNTER_SIZE = 11
_LAST = b"\x01"
_NOT_LAST = b"\x00"


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """The STREAM key for ``file_key`` and the payload's 16-byte ``nonce``."""
    if len(file_key) != FILE_KEY_SIZE:
        raise ValueError("file key must be 16 bytes")
    return hkdf_sha256(file_key, nonce, PAYLOAD_LABEL)


def _nonce(counter: int, flag: bytes) -> bytes:
    return counter.to_bytes(_COUNTER_SIZE, "big") + flag


def seal_payload(src: BinaryIO, dst: BinaryIO, file_key: bytes) -> None:
    """Write the payload of ``src`` (nonce + STREAM) under ``file_key`` to ``dst``.

    Reads ``src`` to its end in 64 KiB chunks. Neither stream is closed.
    """
    nonce = os.urandom(NONCE_SIZE)
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    dst.write(nonce)
    source = Source(src)
    # Two input buffers: a full chunk is the last one only if the next read is empty.
    current, upcoming = bytearray(CHUNK_SIZE), bytearray(CHUNK_SIZE)
    out = bytearray(ENCRYPTED_CHUNK_SIZE)
    out_view = memoryview(out)
    n = source.read_full(current)
    counter = 0
    while True:
        m = source.read_full(upcoming) if n == CHUNK_SIZE else 0
        last = m == 0
        sealed = out_view[: n + TAG_SIZE]  # encrypt_into wants the exact output size
        flag = _LAST if last else _NOT_LAST
        aead.encrypt_into(_nonce(counter, flag), memoryview(current)[:n], None, sealed)
        dst.write(sealed)
        if last:
            return
        current, upcoming, n = upcoming, current, m
        counter += 1


def _open_chunk(
    aead: ChaCha20Poly1305, counter: int, chunk: memoryview, out: memoryview, *, last: bool
) -> tuple[int, bool]:
    """Open one chunk into ``out`` (exactly its plaintext size); returns (size, last)."""
    try:
        if not last:
            try:
                return aead.decrypt_into(_nonce(counter, _NOT_LAST), chunk, None, out), False
            except InvalidTag:
                pass  # A full-length chunk may still be the final one.
        return aead.decrypt_into(_nonce(counter, _LAST), chunk, None, out), True
    except (InvalidTag, ValueError):
        raise PayloadError("a payload chunk failed to authenticate") from None


def open_stream(source: Source, dst: BinaryIO, key: bytes) -> None:
    """Decrypt STREAM chunks from ``source`` into ``dst``, releasing only authenticated ones.

    On PayloadError, ``dst`` holds exactly the chunks that authenticated before the failure.
    """
    aead = ChaCha20Poly1305(key)
    buf = bytearray(ENCRYPTED_CHUNK_SIZE)
    buf_view, out_view = memoryview(buf), memoryview(bytearray(CHUNK_SIZE))
    counter = 0
    while True:
        n = source.read_full(buf)
        if n == 0:
            raise PayloadError("payload truncated: no final chunk")
        short = n < ENCRYPTED_CHUNK_SIZE
        if short and counter and n == TAG_SIZE:
            raise PayloadError("empty final chunk after other chunks")
        if n < TAG_SIZE:
            raise PayloadError("payload chunk shorter than its tag")
        size, last = _open_chunk(aead, counter, buf_view[:n], out_view[: n - TAG_SIZE], last=short)
        dst.write(out_view[:size])
        if last:
            if source.read(1):
                raise PayloadError("trailing data after the final chunk")
            return
        counter += 1


def open_payload(src: BinaryIO | Source, dst: BinaryIO, file_key: bytes) -> None:
    """Read the payload nonce and STREAM from ``src`` and write the plaintext to ``dst``.

    A missing or short nonce is a HeaderError (the CCTV vectors count it as part of the
    header); a bad chunk is a PayloadError. Neither stream is closed.
    """
    source = src if isinstance(src, Source) else Source(src)
    nonce = source.read(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise HeaderError("missing or short payload nonce")
    open_stream(source, dst, payload_key(file_key, nonce))
