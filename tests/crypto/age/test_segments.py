"""Inputs spanning several I/O segments, where the write-behind thread is in play."""

from __future__ import annotations

import io

import pytest

import crypto.age
from crypto.age.stream import SEGMENT_CHUNKS
from crypto.errors import PayloadError
from tests.crypto.age.support import CHUNK, party

SEGMENT = SEGMENT_CHUNKS * CHUNK
SEALED_CHUNK = CHUNK + 16


def _data(size: int) -> bytes:
    pattern = bytes(range(251))
    return (pattern * (size // len(pattern) + 1))[:size]


@pytest.mark.parametrize("size", [SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 3 * SEGMENT + 5])
def test_round_trip_across_segment_boundaries(size: int) -> None:
    someone = party("x25519")
    data = _data(size)
    assert someone.decrypt(someone.encrypt(data)) == data


@pytest.mark.parametrize("chunk", [SEGMENT_CHUNKS - 1, SEGMENT_CHUNKS, 2 * SEGMENT_CHUNKS + 3])
def test_tampered_chunk_in_a_later_segment_releases_exactly_the_chunks_before_it(
    chunk: int,
) -> None:
    someone = party("x25519")
    data = _data(3 * SEGMENT)
    age_file = bytearray(someone.encrypt(data))
    header, _ = crypto.age.split_header(io.BytesIO(bytes(age_file)))
    age_file[len(header) + 16 + chunk * SEALED_CHUNK + 100] ^= 1
    dst = io.BytesIO()
    with pytest.raises(PayloadError):
        someone.decrypt_into(bytes(age_file), dst)
    assert dst.getvalue() == data[: chunk * CHUNK]


def test_truncation_at_a_segment_boundary_is_a_payload_failure() -> None:
    someone = party("x25519")
    data = _data(2 * SEGMENT + 10)
    age_file = someone.encrypt(data)
    header, _ = crypto.age.split_header(io.BytesIO(age_file))
    cut = len(header) + 16 + SEGMENT_CHUNKS * SEALED_CHUNK
    dst = io.BytesIO()
    with pytest.raises(PayloadError):
        someone.decrypt_into(age_file[:cut], dst)
    assert dst.getvalue() == data[:SEGMENT]


class FailingSink(io.RawIOBase):
    """Accepts ``limit`` bytes, then every write fails like a full disk."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self.written + len(data) > self.limit:
            raise OSError(28, "No space left on device")
        self.written += len(data)
        return len(data)


@pytest.mark.parametrize("limit", [0, SEGMENT, 3 * SEGMENT])
def test_a_failing_destination_surfaces_its_error_without_hanging(limit: int) -> None:
    someone = party("x25519")
    data = _data(5 * SEGMENT)
    with pytest.raises(OSError, match="No space"):
        crypto.age.encrypt(io.BytesIO(data), FailingSink(limit), [someone.recipient])  # type: ignore[arg-type]
    age_file = someone.encrypt(data)
    with pytest.raises(OSError, match="No space"):
        crypto.age.decrypt(io.BytesIO(age_file), FailingSink(limit), [someone.identity])  # type: ignore[arg-type]
