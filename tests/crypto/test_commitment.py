"""The payload commitment: HMAC(HKDF(file_key, "tvault/commit/v1"), SHA-256(payload))."""

from __future__ import annotations

import hashlib
import hmac
import io

import pytest

from crypto.commitment import PayloadHasher, commit, verify_commitment
from crypto.errors import CryptoError, ProofError

FILE_KEY = bytes(range(16))
PAYLOAD = b"age payload"

# Computed once with this module's commit and cross-checked by `_reference` below.
KNOWN_ANSWERS = [
    (FILE_KEY, PAYLOAD, "de04803f7ed713996e5e4b096e5da135e922bf69e9af87f3a9eb64b0a364cd4f"),
    (bytes(16), b"", "2564a5787d945a4d75a60429a04a24351c67f1dee24ba7a9a6c048e7475e07a5"),
]


def _reference(file_key: bytes, payload: bytes) -> bytes:
    """RFC 5869 HKDF-SHA256 spelled out with hmac (empty salt = 32 zero bytes), then HMAC."""
    prk = hmac.digest(bytes(32), file_key, "sha256")
    key = hmac.digest(prk, b"tvault/commit/v1" + b"\x01", "sha256")
    return hmac.digest(key, hashlib.sha256(payload).digest(), "sha256")


@pytest.mark.parametrize(("file_key", "payload", "expected"), KNOWN_ANSWERS)
def test_known_answer(file_key: bytes, payload: bytes, expected: str) -> None:
    digest = hashlib.sha256(payload).digest()
    assert commit(file_key=file_key, payload_sha256=digest).hex() == expected
    assert _reference(file_key, payload).hex() == expected


def test_a_matching_commitment_verifies() -> None:
    digest = hashlib.sha256(PAYLOAD).digest()
    verify_commitment(
        file_key=FILE_KEY,
        payload_sha256=digest,
        commitment=commit(file_key=FILE_KEY, payload_sha256=digest),
    )


def test_swapped_payload_is_refused() -> None:
    logged = commit(file_key=FILE_KEY, payload_sha256=hashlib.sha256(PAYLOAD).digest())
    with pytest.raises(ProofError):
        verify_commitment(
            file_key=FILE_KEY,
            payload_sha256=hashlib.sha256(PAYLOAD + b"!").digest(),
            commitment=logged,
        )


def test_commitment_under_another_file_key_is_refused() -> None:
    digest = hashlib.sha256(PAYLOAD).digest()
    with pytest.raises(ProofError):
        verify_commitment(
            file_key=bytes(16),
            payload_sha256=digest,
            commitment=commit(file_key=FILE_KEY, payload_sha256=digest),
        )


@pytest.mark.parametrize("position", [0, 15, 31])
def test_modified_commitment_bit_is_refused(position: int) -> None:
    digest = hashlib.sha256(PAYLOAD).digest()
    logged = bytearray(commit(file_key=FILE_KEY, payload_sha256=digest))
    logged[position] ^= 0x01
    with pytest.raises(ProofError):
        verify_commitment(file_key=FILE_KEY, payload_sha256=digest, commitment=bytes(logged))


def test_truncated_commitment_is_refused() -> None:
    digest = hashlib.sha256(PAYLOAD).digest()
    logged = commit(file_key=FILE_KEY, payload_sha256=digest)
    with pytest.raises(ProofError):
        verify_commitment(file_key=FILE_KEY, payload_sha256=digest, commitment=logged[:16])


def test_swapped_arguments_are_refused_by_their_sizes() -> None:
    digest = hashlib.sha256(PAYLOAD).digest()
    with pytest.raises(CryptoError, match="file key"):
        commit(file_key=digest, payload_sha256=FILE_KEY)
    with pytest.raises(CryptoError, match="digest"):
        commit(file_key=FILE_KEY, payload_sha256=PAYLOAD)


def test_payload_hasher_over_chunks_equals_sha256() -> None:
    payload = bytes(range(256)) * 1000
    hasher = PayloadHasher.of_stream(io.BytesIO(payload), chunk_size=1000 - 1)
    assert hasher.digest() == hashlib.sha256(payload).digest()
    assert hasher.size == len(payload)


def test_payload_hasher_fed_by_hand() -> None:
    hasher = PayloadHasher()
    for chunk in (b"age ", b"", b"payload"):
        hasher.update(chunk)
    assert hasher.digest() == hashlib.sha256(PAYLOAD).digest()
    assert hasher.size == len(PAYLOAD)


def test_payload_hasher_of_an_empty_stream() -> None:
    hasher = PayloadHasher.of_stream(io.BytesIO())
    assert hasher.digest() == hashlib.sha256(b"").digest()
    assert hasher.size == 0
