"""Signed staff messages (replies, grant statements) and the follow-up MAC message.

A reply or grant statement is a C2SP signed note (`crypto.note`) whose text is the
canonical JSON of its fields (`crypto.roster.canonical_json`) and a newline, signed with
the author's Ed25519 key under the note key name `STAFF_KEY_NAME`. The verifier takes the
author's key from a roster the client verified, never from the server, so a malicious
server can neither forge a reply nor pass one caseworker's reply off as another's.

A follow-up from a source is MAC'd, not signed: the source's follow-up key comes from the
codename (`crypto.codename.CodenameKeys.followup_mac`). `followup_message` binds the MAC to
the record and the sequence number, so a follow-up cannot be replayed on another record or
reordered within one (docs/submissions.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto import note
from crypto.errors import ProofError
from crypto.roster import canonical_json

#: The signed-note key name of every staff signing key. Fixed, like the org key's: the
#: roster maps an opaque account id to its key, and the note names no person.
STAFF_KEY_NAME: Final = "tvault-staff"
REPLY_TYPE: Final = "tvault-reply/v1"
GRANT_TYPE: Final = "tvault-grant/v1"
FOLLOWUP_LABEL: Final = b"tvault-followup/v1\n"
MAX_MESSAGE_CHARS: Final = 20_000
_MAX_SEQUENCE: Final = 2**53 - 1


@dataclass(frozen=True, slots=True)
class Reply:
    """A caseworker's reply to the source of `record`, as its author signed it."""

    record: str
    sequence: int
    author: str
    message: str


@dataclass(frozen=True, slots=True)
class Grant:
    """`author` gave `target` (whose age recipient is `recipient`) access to `record`."""

    record: str
    target: str
    recipient: str
    author: str


def staff_verifier(verify_key: bytes) -> note.Verifier:
    """The signed-note verifier of a staff member's raw 32-byte Ed25519 key."""
    return note.Verifier(STAFF_KEY_NAME, note.key_id(STAFF_KEY_NAME, verify_key), verify_key)


def _sign(fields: dict[str, Any], signing_key: Ed25519PrivateKey) -> bytes:
    signer = note.Signer(STAFF_KEY_NAME, signing_key)
    return note.sign_note(canonical_json(fields).decode("utf-8") + "\n", [signer])


def _open(signed: bytes, *, kind: str, verify_keys: Mapping[str, bytes]) -> dict[str, Any]:
    """Open a staff note of `kind` whose `author` is a key in `verify_keys` (id → key)."""
    # The author named in the text picks the key to check; nothing is trusted before the
    # signature by that key verifies over exactly this text.
    try:
        text = signed.split(b"\n\n", 1)[0].decode("utf-8")
        fields = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise ProofError(f"the {kind} is malformed") from None
    if not isinstance(fields, dict) or fields.get("type") != kind:
        raise ProofError(f"not a {kind}")
    key = verify_keys.get(str(fields.get("author")))
    if key is None:
        raise ProofError(f"the {kind} is by someone not on the roster")
    opened = note.open_note(signed, [staff_verifier(key)])
    if opened.text != canonical_json(fields).decode("utf-8") + "\n":
        raise ProofError(f"the {kind} is not canonical")
    return fields


def sign_reply(
    *, record: str, sequence: int, author: str, message: str, signing_key: Ed25519PrivateKey
) -> bytes:
    """Sign a reply. Raises ValueError for a sequence below 1 or an over-long message."""
    if not 1 <= sequence <= _MAX_SEQUENCE:
        raise ValueError("a reply's sequence number starts at 1")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ValueError(f"a reply holds at most {MAX_MESSAGE_CHARS} characters")
    fields = {
        "type": REPLY_TYPE,
        "record": record,
        "sequence": sequence,
        "author": author,
        "message": message,
    }
    return _sign(fields, signing_key)


def open_reply(signed: bytes, *, verify_keys: Mapping[str, bytes]) -> Reply:
    """Verify a signed reply against its author's key in `verify_keys` (opaque id → key).

    Raises `ProofError` if it is malformed, by an author not in `verify_keys`, or not
    signed by that author's key. The caller checks `record` and `sequence` are what it
    expects.
    """
    fields = _open(signed, kind=REPLY_TYPE, verify_keys=verify_keys)
    try:
        reply = Reply(
            record=_text(fields, "record"),
            sequence=_sequence(fields),
            author=_text(fields, "author"),
            message=_text(fields, "message"),
        )
    except (KeyError, TypeError):
        raise ProofError("the reply is malformed") from None
    return reply


def sign_grant(
    *, record: str, target: str, recipient: str, author: str, signing_key: Ed25519PrivateKey
) -> bytes:
    """Sign the statement that `author` granted `target` access to `record`."""
    fields = {
        "type": GRANT_TYPE,
        "record": record,
        "target": target,
        "recipient": recipient,
        "author": author,
    }
    return _sign(fields, signing_key)


def open_grant(signed: bytes, *, verify_keys: Mapping[str, bytes]) -> Grant:
    """Verify a grant statement as `open_reply` verifies a reply. Raises `ProofError`."""
    fields = _open(signed, kind=GRANT_TYPE, verify_keys=verify_keys)
    try:
        return Grant(
            record=_text(fields, "record"),
            target=_text(fields, "target"),
            recipient=_text(fields, "recipient"),
            author=_text(fields, "author"),
        )
    except (KeyError, TypeError):
        raise ProofError("the grant statement is malformed") from None


def followup_message(*, record: str, sequence: int, sealed_sha256: bytes) -> bytes:
    """The bytes a follow-up's MAC covers: its record, its sequence number, its ciphertext.

    Raises ValueError for a sequence below 1, a record id with a newline, or a digest that
    is not 32 bytes.
    """
    if not 1 <= sequence <= _MAX_SEQUENCE:
        raise ValueError("a follow-up's sequence number starts at 1")
    if "\n" in record or not record.isascii():
        raise ValueError("a record id is ASCII on one line")
    if len(sealed_sha256) != 32:
        raise ValueError("sealed_sha256 is a SHA-256 digest")
    head = f"{record}\n{sequence}\n".encode("ascii")
    return FOLLOWUP_LABEL + head + sealed_sha256


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields[name]
    if not isinstance(value, str):
        raise TypeError(name)
    return value


def _sequence(fields: Mapping[str, Any]) -> int:
    value = fields["sequence"]
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= _MAX_SEQUENCE:
        raise TypeError("sequence")
    return value
