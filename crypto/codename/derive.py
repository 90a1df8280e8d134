"""Keys from a codename, version v1 (DESIGN.md section 3, "Codenames").

::

    master = Argon2id(password = each word index as 2 big-endian bytes, check word included,
                      salt = SALT_LABEL ‖ org fingerprint, 32 bytes, profile.codename)
    key_i  = HKDF-SHA256(master, salt = "", info = label_i), 32 bytes each

Argon2id sees indices, never strings, so no spelling, language or Unicode form can change
the keys. The salt binds the keys to one org: the same words at another org open nothing.
Each key has its own label, so holding one (the follow-up key travels inside the sealed
report) reveals nothing of the others:

- reply identity, label ``…/reply-identity/<stanza type>``: an age identity of the org's
  recipient type, the 32 bytes being the X25519 scalar or the ``mlkem768x25519`` seed. The
  type is in the label so that one codename never yields related keys of two types.
- lookup secret: the client sends it, the server keeps only `lookup_hash` of it.
- follow-up MAC key: HMAC-SHA256 over each follow-up the source adds. Caseworkers can only
  check an HMAC with the key itself, so `CodenameKeys.followup_check` *is* the key, and it
  travels inside the sealed report where only the record's holders read it. The server,
  which never holds it, cannot forge a follow-up; a holder could, which a MAC cannot
  prevent (a signature key would, at the cost of a larger report: a possible v2).
- resume-state key: encrypts the client's upload resume state.

A v1 derivation must give the same keys forever, or a returning source is locked out. So
a non-test profile must carry exactly `V1_ARGON2`: raising the production cost later means
a v2, not an edit to the profile.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Final, Literal

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crypto.age import mlkem768x25519, x25519
from crypto.age.primitives import hkdf_sha256
from crypto.codename.errors import CodenameError
from crypto.codename.phrase import Codename
from crypto.errors import ProofError
from crypto.profile import Argon2Params, KdfProfile

VERSION: Final = "v1"
SALT_LABEL: Final = b"tvault/codename/v1"
REPLY_IDENTITY_LABEL: Final = b"tvault/codename/v1/reply-identity/"
LOOKUP_LABEL: Final = b"tvault/codename/v1/lookup"
FOLLOWUP_MAC_LABEL: Final = b"tvault/codename/v1/followup-mac"
RESUME_STATE_LABEL: Final = b"tvault/codename/v1/resume-state"
#: RFC 9106's second recommended setting, the production profile's codename cost at v1.
V1_ARGON2: Final = Argon2Params(time_cost=3, memory_kib=64 * 1024, parallelism=4)
KEY_SIZE: Final = 32
MAC_SIZE: Final = 32


def lookup_hash(lookup_secret: bytes) -> bytes:
    """SHA-256 of a lookup secret: all the server stores, and what it looks a source up by.

    A plain hash suffices: the secret is a 32-byte key, so there is nothing to stretch.
    """
    return hashlib.sha256(lookup_secret).digest()


def verify_followup(*, check: bytes, message: bytes, mac: bytes) -> None:
    """Return if ``mac`` is the source's MAC of ``message`` under the report's ``check``.

    ``message`` must be the exact bytes the source MAC'd, naming the record and a sequence
    number, or the server could replay an old follow-up. Raises `ProofError`.
    """
    if not hmac.compare_digest(hmac.digest(check, message, "sha256"), mac):
        raise ProofError("the follow-up's MAC does not verify")


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class CodenameKeys:
    """The keys one codename gives at one org. ``repr`` shows none of them."""

    reply_identity: str
    reply_recipient: str
    lookup_secret: bytes
    followup_key: bytes
    resume_key: bytes
    version: str = field(default=VERSION)

    @property
    def followup_check(self) -> bytes:
        """What the sealed report carries so caseworkers can verify follow-ups: the key."""
        return self.followup_key

    def lookup_hash(self) -> bytes:
        return lookup_hash(self.lookup_secret)

    def followup_mac(self, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` (see `verify_followup` for what it must contain)."""
        return hmac.digest(self.followup_key, message, "sha256")

    def __repr__(self) -> str:
        return f"CodenameKeys(version={self.version!r}, reply_recipient={self.reply_recipient!r})"


def _master_key(codename: Codename, org_fingerprint: bytes, params: Argon2Params) -> bytes:
    secret = b"".join(index.to_bytes(2, "big") for index in codename.indices)
    return hash_secret_raw(
        secret=secret,
        salt=SALT_LABEL + org_fingerprint,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=KEY_SIZE,
        type=Type.ID,
    )


def _reply_identity(master: bytes, kind: Literal["pq", "x25519"]) -> tuple[str, str]:
    identity: mlkem768x25519.MLKEM768X25519Identity | x25519.X25519Identity
    if kind == "pq":
        label = REPLY_IDENTITY_LABEL + mlkem768x25519.STANZA_TYPE.encode("ascii")
        identity = mlkem768x25519.MLKEM768X25519Identity(hkdf_sha256(master, b"", label))
    else:
        label = REPLY_IDENTITY_LABEL + x25519.STANZA_TYPE.encode("ascii")
        scalar = hkdf_sha256(master, b"", label)
        identity = x25519.X25519Identity(X25519PrivateKey.from_private_bytes(scalar))
    return str(identity), str(identity.recipient())


def derive(
    codename: Codename,
    *,
    org_fingerprint: bytes,
    kind: Literal["pq", "x25519"],
    profile: KdfProfile,
) -> CodenameKeys:
    """The v1 keys of ``codename`` at the org with this fingerprint.

    ``org_fingerprint`` is the ASCII of `crypto.roster.normalise_fingerprint` (every client
    must spell it the same way); ``kind`` is the org's recipient type. Raises
    `CodenameError` for an empty fingerprint, an unknown kind, or a production profile
    whose codename cost is not `V1_ARGON2`. Costs one Argon2id run at ``profile.codename``.
    """
    if not org_fingerprint:
        raise CodenameError("an org fingerprint is needed to derive codename keys")
    if kind not in ("pq", "x25519"):
        raise CodenameError("the org's recipient type is 'pq' or 'x25519'")
    if not profile.is_test and profile.codename != V1_ARGON2:
        raise CodenameError("codename v1 keys are defined at fixed Argon2id costs")
    master = _master_key(codename, org_fingerprint, profile.codename)
    reply_identity, reply_recipient = _reply_identity(master, kind)
    return CodenameKeys(
        reply_identity=reply_identity,
        reply_recipient=reply_recipient,
        lookup_secret=hkdf_sha256(master, b"", LOOKUP_LABEL),
        followup_key=hkdf_sha256(master, b"", FOLLOWUP_MAC_LABEL),
        resume_key=hkdf_sha256(master, b"", RESUME_STATE_LABEL),
    )
