"""Enrolment codes and the MAC that lets an admin catch a key swapped at enrolment.

An enrolment code is ``<id>-<server half>-<secret half>`` in base32. The server made the
id and the server half (it keeps only a hash of the half); the admin's client added the
secret half, which never reaches the server. The enrolling client MACs the public keys it
uploads under the secret half, and `tvault roster publish` checks that MAC with the copy
the admin's client kept: a server that substitutes a key cannot forge it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final, Literal

from crypto.age.mlkem768x25519 import MLKEM768X25519Recipient
from crypto.age.recipients import parse_recipient
from crypto.errors import KeyFormatError
from crypto.roster import canonical_json

MAC_TYPE: Final = "tvault-enrolment/v1"
SECRET_HALF_BYTES: Final = 16  # 128 bits: the MAC key


@dataclass(frozen=True)
class EnrolmentCode:
    code_id: str
    server_half: str
    secret_half: str

    def __str__(self) -> str:
        return f"{self.code_id}-{self.server_half}-{self.secret_half}"


def new_secret_half() -> str:
    return base64.b32encode(secrets.token_bytes(SECRET_HALF_BYTES)).decode().rstrip("=")


def parse_code(text: str) -> EnrolmentCode:
    """Split a code as typed (any case, surrounding space); raises `KeyFormatError`."""
    parts = text.strip().upper().split("-")
    if len(parts) != 3 or not all(parts) or not all(_is_base32(p) for p in parts):
        raise KeyFormatError("not an enrolment code (three base32 parts joined by dashes)")
    return EnrolmentCode(*parts)


def _is_base32(text: str) -> bool:
    return all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in text)


def _secret_key(secret_half: str) -> bytes:
    try:
        return base64.b32decode(secret_half + "=" * (-len(secret_half) % 8))
    except ValueError:
        raise KeyFormatError("the enrolment code's secret half is malformed") from None


def enrolment_mac(
    secret_half: str, *, code_id: str, username: str, recipient: str | None, verify_key: bytes
) -> bytes:
    """HMAC-SHA256 under the secret half of the keys an account enrols, bound to the code
    and the username so a MAC cannot be replayed for another account."""
    message = canonical_json(
        {
            "type": MAC_TYPE,
            "code_id": code_id,
            "username": username,
            "recipient": recipient,
            "verify_key": base64.b64encode(verify_key).decode("ascii"),
        }
    )
    return hmac.new(_secret_key(secret_half), message, hashlib.sha256).digest()


def mac_matches(expected: bytes, got: bytes) -> bool:
    return hmac.compare_digest(expected, got)


def recipient_kind(recipient: str) -> Literal["pq", "x25519"]:
    """The recipient type of an age recipient string; raises `KeyFormatError`."""
    parsed = parse_recipient(recipient)
    return "pq" if isinstance(parsed, MLKEM768X25519Recipient) else "x25519"
