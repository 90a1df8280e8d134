"""The payload commitment a submission's log entry holds (DESIGN.md section 3).

``commitment = HMAC-SHA256(HKDF-SHA256(file_key, salt = "", info = COMMIT_LABEL),
SHA-256(payload))``, where ``payload`` is the age STREAM payload the server stores once
(the ciphertext after the header, not the plaintext).

Why a keyed commitment rather than the bare SHA-256: only holders of the file key can
compute or check it, so a seized log entry cannot be linked to a seized ciphertext, while
every client that opens the record can tell that the server swapped its payload.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import BinaryIO, Final

from crypto.age.primitives import FILE_KEY_SIZE, hkdf_sha256
from crypto.errors import CryptoError, ProofError

#: HKDF info of the commitment key; DESIGN.md's ``HKDF(file_key, "commit")``, versioned.
COMMIT_LABEL: Final = b"tvault/commit/v1"
COMMITMENT_SIZE: Final = 32
DIGEST_SIZE: Final = 32
CHUNK_SIZE: Final = 1 << 20


def _check_inputs(file_key: bytes, payload_sha256: bytes) -> None:
    # Both arguments are bytes; their sizes tell them apart if a caller swaps them.
    if len(file_key) != FILE_KEY_SIZE:
        raise CryptoError("a file key is 16 bytes")
    if len(payload_sha256) != DIGEST_SIZE:
        raise CryptoError("a payload digest is a 32-byte SHA-256")


def commit(*, file_key: bytes, payload_sha256: bytes) -> bytes:
    """The 32-byte commitment to the payload whose SHA-256 is ``payload_sha256``.

    Raises `CryptoError` if the file key is not 16 bytes or the digest not 32.
    """
    _check_inputs(file_key, payload_sha256)
    key = hkdf_sha256(file_key, b"", COMMIT_LABEL)
    return hmac.digest(key, payload_sha256, "sha256")


def verify_commitment(*, file_key: bytes, payload_sha256: bytes, commitment: bytes) -> None:
    """Return if ``commitment`` commits to this payload under this file key.

    Raises `ProofError` if it does not (compared in constant time), and `CryptoError` on
    malformed inputs.
    """
    expected = commit(file_key=file_key, payload_sha256=payload_sha256)
    if not hmac.compare_digest(expected, commitment):
        raise ProofError("the payload does not match its logged commitment")


class PayloadHasher:
    """SHA-256 of a payload fed in chunks, as it is uploaded or downloaded, and its size.

    Feed every byte of the payload, in order, to `update`; then `digest` gives what
    `commit` takes. Hashing while streaming saves reading a large attachment twice.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)

    def digest(self) -> bytes:
        """The SHA-256 of everything fed so far; more may still be fed afterwards."""
        return self._hash.digest()

    @classmethod
    def of_stream(cls, src: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> PayloadHasher:
        """Hash ``src`` from its current position to its end, in chunks.

        The caller opens and closes ``src``; it is left at its end.
        """
        hasher = cls()
        while chunk := src.read(chunk_size):
            hasher.update(chunk)
        return hasher
