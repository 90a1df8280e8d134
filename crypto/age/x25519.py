"""The X25519 recipient type: ``age1…`` / ``AGE-SECRET-KEY-1…`` (c2sp.org/age, "X25519").

The stanza is ``-> X25519 <ephemeral share>`` with the wrapped file key as body. The
wrapping key is HKDF-SHA256(shared secret, salt = share ‖ recipient, info = label).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from crypto.age import bech32
from crypto.age.format import Stanza, b64encode, decode_arg
from crypto.age.primitives import hkdf_sha256, unwrap_file_key, wrap_file_key
from crypto.errors import HeaderError, KeyFormatError, RecipientError

STANZA_TYPE = "X25519"
LABEL = b"age-encryption.org/v1/X25519"
RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"
KEY_SIZE = 32


def _decode_key(text: str, hrp: str) -> bytes:
    data = bech32.decode_as(text, hrp)
    if len(data) != KEY_SIZE:
        raise KeyFormatError("not an X25519 age key")
    return data


def _wrapping_key(shared: bytes, share: bytes, recipient: bytes) -> bytes:
    return hkdf_sha256(shared, share + recipient, LABEL)


class X25519Recipient:
    """A classical X25519 public key. Documented as a downgrade for this project."""

    stanza_type = STANZA_TYPE

    def __init__(self, public_key: bytes) -> None:
        self._public = public_key

    @classmethod
    def parse(cls, text: str) -> X25519Recipient:
        """Parse ``age1…``; raises KeyFormatError."""
        return cls(_decode_key(text, RECIPIENT_HRP))

    def wrap(self, file_key: bytes) -> Stanza:
        """A fresh stanza wrapping ``file_key`` to this recipient."""
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes_raw()
        try:
            shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self._public))
        except ValueError:
            raise RecipientError("X25519 recipient is a low-order point") from None
        key = _wrapping_key(shared, share, self._public)
        return Stanza(
            STANZA_TYPE, (b64encode(share).decode("ascii"),), wrap_file_key(key, file_key)
        )

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._public)


class X25519Identity:
    """An X25519 private key."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private = private_key
        self._public = private_key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        """Parse ``AGE-SECRET-KEY-1…``; raises KeyFormatError."""
        return cls(X25519PrivateKey.from_private_bytes(_decode_key(text, IDENTITY_HRP)))

    def recipient(self) -> X25519Recipient:
        return X25519Recipient(self._public)

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """The file key, or ``None`` if the stanza is not for us; HeaderError if malformed."""
        if stanza.type != STANZA_TYPE:
            return None
        if len(stanza.args) != 1:
            raise HeaderError("invalid X25519 stanza")
        share = decode_arg(stanza.args[0])
        if len(share) != KEY_SIZE:
            raise HeaderError("invalid X25519 stanza")
        try:
            shared = self._private.exchange(X25519PublicKey.from_public_bytes(share))
        except ValueError:
            # All-zero shared secret: the share is a low-order point.
            raise HeaderError("invalid X25519 stanza share") from None
        return unwrap_file_key(_wrapping_key(shared, share, self._public), stanza.body)

    def __str__(self) -> str:
        raw = self._private.private_bytes_raw()
        return bech32.encode(IDENTITY_HRP, raw).upper()
