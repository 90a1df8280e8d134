"""Device identities: an age identity and an Ed25519 signing key in one passphrase-sealed file.

A caseworker's identity never leaves their device. On disk it is a standard age file
encrypted to the caseworker's passphrase with the scrypt recipient (DESIGN.md section 3),
so `age -d` opens it even without this software. Its plaintext is itself a valid age
identity file: the age identity is the one non-comment line, and the signing key rides in
a structured comment that age ignores:

    # Testimony Vault identity file. Keep it secret.
    # tvault-identity: v1
    # tvault-signing-key: TVAULT-ED25519-SECRET-KEY-1...
    AGE-SECRET-KEY-PQ-1...

An identity with only a signing key (the org key on an admin's machine) has no age line.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crypto import age
from crypto.age import bech32
from crypto.errors import CryptoError, KeyFormatError
from crypto.profile import KdfProfile

FORMAT_LINE = "# tvault-identity: v1"
SIGNING_KEY_PREFIX = "# tvault-signing-key: "
SIGNING_KEY_HRP = "tvault-ed25519-secret-key-"
_BANNER = "# Testimony Vault identity file. Keep it secret."
# An identity file is a few kilobytes; anything much larger is not one of ours.
_MAX_PLAINTEXT = 64 * 1024


class IdentityFileError(CryptoError):
    """The identity file opened, but its contents are not a valid v1 identity."""


@dataclass(frozen=True)
class DeviceIdentity:
    """The secret keys of one account on one device.

    `age_identity` is an `AGE-SECRET-KEY-…` string, or None for a signing-only identity.
    """

    signing_key: Ed25519PrivateKey
    age_identity: str | None = None

    @property
    def recipient(self) -> str:
        """The age recipient that seals to this identity."""
        if self.age_identity is None:
            raise IdentityFileError("this identity has no age key")
        return age.recipient_of(self.age_identity)

    @property
    def verify_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    @property
    def verify_key_bytes(self) -> bytes:
        return self.verify_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def generate(kind: Literal["pq", "x25519", "none"] = "pq") -> DeviceIdentity:
    """Make a fresh identity; `kind` is the org's recipient type, or "none" for signing only."""
    age_identity = None if kind == "none" else age.generate_identity(kind)
    return DeviceIdentity(signing_key=Ed25519PrivateKey.generate(), age_identity=age_identity)


def encode(identity: DeviceIdentity) -> bytes:
    """The plaintext of an identity file (secret: callers must not write it unsealed)."""
    seed = identity.signing_key.private_bytes_raw()
    signing = bech32.encode(SIGNING_KEY_HRP, seed).upper()
    lines = [_BANNER, FORMAT_LINE, SIGNING_KEY_PREFIX + signing]
    if identity.age_identity is not None:
        lines.append(identity.age_identity)
    return ("\n".join(lines) + "\n").encode("ascii")


def decode(plaintext: bytes) -> DeviceIdentity:
    """Parse identity-file plaintext strictly; raises `IdentityFileError`."""
    try:
        text = plaintext.decode("ascii")
    except UnicodeDecodeError:
        raise IdentityFileError("identity file is not ASCII") from None
    lines = text.splitlines()
    if FORMAT_LINE not in lines:
        raise IdentityFileError("not a Testimony Vault v1 identity file")
    signing = [ln[len(SIGNING_KEY_PREFIX) :] for ln in lines if ln.startswith(SIGNING_KEY_PREFIX)]
    keys = [ln for ln in lines if ln and not ln.startswith("#")]
    if len(signing) != 1 or len(keys) > 1:
        raise IdentityFileError("identity file must hold one signing key and at most one age key")
    try:
        hrp, seed = bech32.decode(signing[0].lower())
    except KeyFormatError:
        raise IdentityFileError("signing key is malformed") from None
    if hrp != SIGNING_KEY_HRP or len(seed) != 32:
        raise IdentityFileError("signing key is malformed")
    age_identity = keys[0] if keys else None
    if age_identity is not None:
        age.recipient_of(age_identity)  # validates; raises KeyFormatError
    return DeviceIdentity(
        signing_key=Ed25519PrivateKey.from_private_bytes(seed), age_identity=age_identity
    )


def save(identity: DeviceIdentity, dst: BinaryIO, *, passphrase: str, profile: KdfProfile) -> None:
    """Seal `identity` to `passphrase` with age's scrypt recipient and write it to `dst`.

    The scrypt work factor comes from `profile`. The caller owns and closes `dst`, and
    should create the file with mode 0600.
    """
    if not passphrase:
        raise IdentityFileError("an identity file needs a passphrase")
    age.encrypt(
        io.BytesIO(encode(identity)),
        dst,
        passphrase=passphrase,
        armor=True,
        scrypt_work_factor=profile.scrypt_log_n,
    )


def load(src: BinaryIO, *, passphrase: str) -> DeviceIdentity:
    """Open an identity file sealed by `save` (or by `age -p` over a valid plaintext).

    Raises `DecryptError` when the passphrase is wrong or the file is damaged, and
    `IdentityFileError` when it opens but is not a v1 identity.
    """
    out = _BoundedSink(_MAX_PLAINTEXT)
    age.decrypt(src, out, passphrase=passphrase)
    return decode(out.getvalue())


class _BoundedSink(io.BytesIO):
    """A BytesIO that refuses to grow past `limit`, so a huge file cannot exhaust memory."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def write(self, data: object) -> int:
        chunk = memoryview(data)  # type: ignore[arg-type]
        if self.tell() + chunk.nbytes > self._limit:
            raise IdentityFileError("identity file is too large")
        return super().write(chunk)
