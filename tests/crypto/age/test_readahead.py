"""Sealing reads ahead on a thread: segment seams, short reads and failing sources."""

import io

import pytest

from crypto import age
from crypto.age.stream import CHUNK_SIZE, SEGMENT_CHUNKS
from tests.crypto.age.support import TrickleReader

SEGMENT = CHUNK_SIZE * SEGMENT_CHUNKS


class Broken(TrickleReader):
    """Fails after `limit` bytes, like a dropped network stream."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(data, step=SEGMENT)
        self._left = limit

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            raise ConnectionResetError("source went away")
        n = super().readinto(buf[: self._left])
        self._left -= n
        return n


def _round_trip(src: io.RawIOBase | io.BytesIO, plaintext: bytes) -> None:
    identity = age.generate_identity("x25519")
    sealed = io.BytesIO()
    age.encrypt(src, sealed, [age.recipient_of(identity)])  # type: ignore[arg-type]
    out = io.BytesIO()
    age.decrypt(io.BytesIO(sealed.getvalue()), out, [identity])
    assert out.getvalue() == plaintext


@pytest.mark.parametrize(
    "size",
    [SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 3 * SEGMENT + CHUNK_SIZE],
    ids=["segment-1", "segment", "segment+1", "two-segments", "three-segments+chunk"],
)
def test_segment_seams_round_trip(size: int) -> None:
    plaintext = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    _round_trip(io.BytesIO(plaintext), plaintext)


def test_short_reads_from_a_pipe_like_source() -> None:
    plaintext = b"\x5a" * (2 * SEGMENT + 7)
    _round_trip(TrickleReader(plaintext, step=4093), plaintext)


@pytest.mark.parametrize("limit", [10, SEGMENT, SEGMENT + 5, 2 * SEGMENT + 1])
def test_source_failure_reaches_the_caller(limit: int) -> None:
    """A source that dies mid-stream fails the seal with its own error, never a hang."""
    identity = age.generate_identity("x25519")
    src = Broken(b"\x00" * (4 * SEGMENT), limit)
    with pytest.raises(ConnectionResetError):
        age.encrypt(src, io.BytesIO(), [age.recipient_of(identity)])  # type: ignore[arg-type]
