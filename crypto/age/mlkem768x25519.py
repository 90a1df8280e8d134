"""The post-quantum hybrid recipient type ``mlkem768x25519`` (c2sp.org/age).

``age1pq1…`` / ``AGE-SECRET-KEY-PQ-1…``; this project's default. The KEM is X-Wing
(HPKE KEM MLKEM768-X25519) and the file key is sealed with HPKE (RFC 9180) base mode,
HKDF-SHA256 and ChaCha20-Poly1305, info :data:`LABEL`. The stanza is
``-> mlkem768x25519 <enc>`` (enc: 1088-byte ML-KEM ciphertext ‖ 32-byte X25519 share)
with the 32-byte sealed file key as body.

The identity is a 32-byte seed expanded as X-Wing does: SHAKE256(seed, 96) gives the
ML-KEM-768 seed (first 64 bytes) and the X25519 private key (last 32). The recipient is
the ML-KEM-768 encapsulation key (1184 bytes) ‖ the X25519 public key (32 bytes).
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import (
    AEAD,
    KDF,
    KEM,
    MLKEM768X25519PrivateKey,
    MLKEM768X25519PublicKey,
    Suite,
)

from crypto.age import bech32
from crypto.age.format import Stanza, b64encode, decode_arg
from crypto.age.primitives import WRAPPED_FILE_KEY_SIZE
from crypto.errors import HeaderError, KeyFormatError

STANZA_TYPE = "mlkem768x25519"
LABEL = b"age-encryption.org/mlkem768x25519"
RECIPIENT_HRP = "age1pq"
IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"
SEED_SIZE = 32
MLKEM_PUBLIC_SIZE = 1184
MLKEM_CIPHERTEXT_SIZE = 1088
X25519_SIZE = 32
PUBLIC_SIZE = MLKEM_PUBLIC_SIZE + X25519_SIZE
ENC_SIZE = MLKEM_CIPHERTEXT_SIZE + X25519_SIZE
_SUITE = Suite(KEM.MLKEM768_X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)


class MLKEM768X25519Recipient:
    """A hybrid ML-KEM-768 + X25519 public key."""

    stanza_type = STANZA_TYPE

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != PUBLIC_SIZE:
            raise KeyFormatError("not an mlkem768x25519 age recipient")
        try:
            mlkem_key = mlkem.MLKEM768PublicKey.from_public_bytes(public_key[:MLKEM_PUBLIC_SIZE])
        except ValueError:
            raise KeyFormatError("invalid ML-KEM-768 encapsulation key") from None
        x25519_key = X25519PublicKey.from_public_bytes(public_key[MLKEM_PUBLIC_SIZE:])
        self._public = public_key
        self._key = MLKEM768X25519PublicKey(mlkem_key, x25519_key)

    @classmethod
    def parse(cls, text: str) -> MLKEM768X25519Recipient:
        """Parse ``age1pq1…``; raises KeyFormatError."""
        return cls(bech32.decode_as(text, RECIPIENT_HRP))

    def wrap(self, file_key: bytes) -> Stanza:
        """A fresh stanza sealing ``file_key`` to this recipient."""
        sealed = _SUITE.encrypt(file_key, self._key, info=LABEL)
        enc, body = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
        return Stanza(STANZA_TYPE, (b64encode(enc).decode("ascii"),), body)

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._public)


class MLKEM768X25519Identity:
    """A hybrid identity, held as its 32-byte seed."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise KeyFormatError("not an mlkem768x25519 age identity")
        expanded = hashlib.shake_256(seed).digest(64 + X25519_SIZE)
        mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self._x25519 = X25519PrivateKey.from_private_bytes(expanded[64:])
        self._seed = seed
        self._key = MLKEM768X25519PrivateKey(mlkem_key, self._x25519)
        self._public = (
            mlkem_key.public_key().public_bytes_raw() + self._x25519.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls) -> MLKEM768X25519Identity:
        return cls(os.urandom(SEED_SIZE))

    @classmethod
    def parse(cls, text: str) -> MLKEM768X25519Identity:
        """Parse ``AGE-SECRET-KEY-PQ-1…``; raises KeyFormatError."""
        return cls(bech32.decode_as(text, IDENTITY_HRP))

    def recipient(self) -> MLKEM768X25519Recipient:
        return MLKEM768X25519Recipient(self._public)

    def _check_share(self, enc: bytes) -> None:
        # HPKE refuses an all-zero X25519 shared secret; the spec makes that a header
        # failure, not a mismatch, so test for it before the opaque HPKE call.
        try:
            self._x25519.exchange(X25519PublicKey.from_public_bytes(enc[MLKEM_CIPHERTEXT_SIZE:]))
        except ValueError:
            raise HeaderError("invalid mlkem768x25519 stanza share") from None

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """The file key, or ``None`` if the stanza is not for us; HeaderError if malformed."""
        if stanza.type != STANZA_TYPE:
            return None
        if len(stanza.args) != 1:
            raise HeaderError("invalid mlkem768x25519 stanza")
        enc = decode_arg(stanza.args[0])
        if len(enc) != ENC_SIZE:
            raise HeaderError("invalid mlkem768x25519 stanza")
        if len(stanza.body) != WRAPPED_FILE_KEY_SIZE:
            raise HeaderError("stanza body is not a wrapped 16-byte file key")
        self._check_share(enc)
        try:
            return _SUITE.decrypt(enc + stanza.body, self._key, info=LABEL)
        except (InvalidTag, ValueError):
            return None

    def __str__(self) -> str:
        return bech32.encode(IDENTITY_HRP, self._seed).upper()
