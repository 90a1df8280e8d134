"""Every C2SP CCTV age vector through every entry point that can take it.

``decrypt`` takes every vector (binary or armored). Binary vectors also go through the
split path the vault uses: ``split_header`` + ``unwrap_file_key`` + ``open_payload``.
Each expected failure must raise exactly its class, and the SHA-256 of everything written
to ``dst`` must match, payload failures included.
"""

from __future__ import annotations

import hashlib
import io

import pytest

import crypto.age
from crypto.errors import (
    ArmorError,
    CryptoError,
    HeaderError,
    HMACError,
    NoIdentityMatchError,
    PayloadError,
)
from tests.vectorload.age import AgeVector, load_vectors, parametrize_vectors

EXPECTED_ERROR: dict[str, type[CryptoError]] = {
    "no match": NoIdentityMatchError,
    "HMAC failure": HMACError,
    "header failure": HeaderError,
    "payload failure": PayloadError,
    "armor failure": ArmorError,
}
BINARY = [v for v in load_vectors() if not v.armored]


def _passphrases(vector: AgeVector) -> list[str | None]:
    """decrypt takes one passphrase: try each (every one must give the expected result)."""
    return list(vector.passphrases) or [None]


def _check_outcome(vector: AgeVector, error: CryptoError | None, released: bytes) -> None:
    if vector.expect == "success":
        assert error is None, f"expected success, got {error!r}"
    else:
        expected = EXPECTED_ERROR[vector.expect]
        assert isinstance(error, expected), f"expected {expected.__name__}, got {error!r}"
        if vector.expect == "header failure":
            assert not isinstance(error, HMACError)
    if vector.payload_sha256 is not None:
        assert hashlib.sha256(released).hexdigest() == vector.payload_sha256


def _run(call: object, *args: object, **kwargs: object) -> CryptoError | None:
    try:
        call(*args, **kwargs)  # type: ignore[operator]
    except CryptoError as error:
        return error
    return None


@parametrize_vectors()
def test_vector_through_decrypt(vector: AgeVector) -> None:
    for passphrase in _passphrases(vector):
        dst = io.BytesIO()
        error = _run(
            crypto.age.decrypt,
            io.BytesIO(vector.age_file),
            dst,
            vector.identities,
            passphrase=passphrase,
        )
        _check_outcome(vector, error, dst.getvalue())


def _split_path(vector: AgeVector, passphrase: str | None, dst: io.BytesIO) -> None:
    src = io.BytesIO(vector.age_file)
    header, payload_head = crypto.age.split_header(src)
    file_key = crypto.age.unwrap_file_key(header, vector.identities, passphrase=passphrase)
    if vector.file_key is not None and vector.expect in ("success", "payload failure"):
        assert file_key == vector.file_key
    crypto.age.open_payload(io.BytesIO(payload_head + src.read()), dst, file_key)


@parametrize_vectors(BINARY)
def test_vector_through_split_header_unwrap_and_open_payload(vector: AgeVector) -> None:
    for passphrase in _passphrases(vector):
        dst = io.BytesIO()
        error = _run(_split_path, vector, passphrase, dst)
        _check_outcome(vector, error, dst.getvalue())


def test_loader_saw_every_vector() -> None:
    assert len(load_vectors()) == 143


def test_loader_refuses_unknown_field() -> None:
    from tests.vectorload.age import UnknownFieldError, parse_vector

    with pytest.raises(UnknownFieldError):
        parse_vector("made-up", b"expect: success\nnew field: 1\n\nage-encryption.org/v1\n")
