"""The primitives every age recipient type and the header share (c2sp.org/age).

HKDF-SHA256, the header MAC, and the ChaCha20-Poly1305 wrapping of a 16-byte file key
under a 32-byte key with the all-zero nonce (safe because each wrapping key is used once).
"""

from __future__ import annotations

import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.errors import HeaderError

FILE_KEY_SIZE = 16
TAG_SIZE = 16
WRAPPED_FILE_KEY_SIZE = FILE_KEY_SIZE + TAG_SIZE
HEADER_LABEL = b"header"
_ZERO_NONCE = bytes(12)


def new_file_key() -> bytes:
    """A fresh random 16-byte file key."""
    return os.urandom(FILE_KEY_SIZE)


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869); an empty ``salt`` means the RFC's all-zero salt."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info)
    return hkdf.derive(ikm)


def header_mac(file_key: bytes, header_without_mac: bytes) -> bytes:
    """HMAC-SHA256 under HKDF(file key, "header") over the header up to ``---``."""
    key = hkdf_sha256(file_key, b"", HEADER_LABEL)
    return hmac.digest(key, header_without_mac, "sha256")


def wrap_file_key(key: bytes, file_key: bytes) -> bytes:
    """Encrypt ``file_key`` under a single-use 32-byte ``key``."""
    return ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)


def unwrap_file_key(key: bytes, body: bytes) -> bytes | None:
    """Decrypt a stanza body into a file key.

    Returns ``None`` when the tag does not verify (the stanza is not for this key: try the
    next one). Raises HeaderError when the body cannot hold a 16-byte file key, which the
    spec requires checking before decrypting.
    """
    if len(body) != WRAPPED_FILE_KEY_SIZE:
        raise HeaderError("stanza body is not a wrapped 16-byte file key")
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None
