"""The org's signed roster, and the org fingerprint people compare aloud.

A roster is a JSON document, canonically encoded (RFC 8785 for the values a roster holds:
strings, integers, booleans, null, lists and objects with ASCII keys), followed by one
newline and signed by the org key as a C2SP signed note (`crypto.note`). The admin signs
two documents per version, with the same version and expiry:

- the **staff roster** (`STAFF_TYPE`): every active account with its role, age recipient
  and Ed25519 verify key, for staff clients;
- the **public roster** (`PUBLIC_TYPE`): only what a source needs (DESIGN.md section 6):
  opaque ids and recipients of the intake caseworkers, the policy, the log key. No names.

Clients trust a roster only after `open_roster` (signature by the pinned org key,
canonical encoding, the fields a client relies on) and `check_roster` (not older than the
last version seen, not expired, names a log key). Both are pure functions on bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from crypto import note
from crypto.errors import CryptoError, KeyFormatError, ProofError

#: The signed-note key name of the org key. Fixed: the fingerprint, not the name, is
#: what people compare, and a constant keeps the key ID a function of the key alone.
ORG_KEY_NAME: Final = "tvault-org"
STAFF_TYPE: Final = "tvault-roster/v1"
PUBLIC_TYPE: Final = "tvault-public-roster/v1"
RECIPIENT_TYPES: Final = ("pq", "x25519")

# 160 bits of SHA-256: a second key matching a fingerprint costs 2**160 work.
_FINGERPRINT_BYTES: Final = 20
_GROUP: Final = 4
_MAX_SAFE_INTEGER: Final = 2**53 - 1  # RFC 8785 section 3.2.2.3 (I-JSON numbers)
#: The ASCII that RFC 8785 writes as it is in a string: all but controls, '"' and '\\'.
_UNESCAPED: Final = bytes(b for b in range(0x20, 0x80) if b not in b'"\\')


class RosterError(CryptoError):
    """A roster is not one a client may trust: forged, malformed, rolled back or expired."""

    summary = "the roster is not acceptable"


def fingerprint(public_key: bytes) -> str:
    """The org fingerprint: 160 bits of SHA-256 of the raw Ed25519 key, in base32 groups.

    Base32 (RFC 4648) has no 0/O or 1/I confusion and reads aloud letter by letter, e.g.
    ``MFRG-GZDF-...`` (eight groups of four).
    """
    if len(public_key) != 32:
        raise KeyFormatError("an org key is a 32-byte Ed25519 public key")
    digest = hashlib.sha256(b"tvault org key v1\n" + public_key).digest()[:_FINGERPRINT_BYTES]
    text = base64.b32encode(digest).decode("ascii")
    return "-".join(text[i : i + _GROUP] for i in range(0, len(text), _GROUP))


def normalise_fingerprint(text: str) -> str:
    """Return `text` as `fingerprint` spells it, whatever its case, dashes or spaces.

    Raises `KeyFormatError` if it cannot be a fingerprint.
    """
    compact = "".join(c for c in text.upper() if c not in "- \t")
    try:
        raw = base64.b32decode(compact)
    except ValueError:
        raise KeyFormatError("not an org fingerprint") from None
    if len(raw) != _FINGERPRINT_BYTES:
        raise KeyFormatError("not an org fingerprint")
    return "-".join(compact[i : i + _GROUP] for i in range(0, len(compact), _GROUP))


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON of `value`, for the subset the vault writes: rosters, the
    records a proof of work is bound to, log entries.

    Keys must be ASCII strings (so code-point and UTF-16 ordering agree), numbers integers
    within the I-JSON range, strings free of lone surrogates. Raises `ValueError` for
    anything else, e.g. a float.

    Over that subset RFC 8785 is compact JSON with each object's keys sorted, strings in
    UTF-8 with only `"`, `\\` and control characters escaped (the short forms, else
    ``\\u00xx``), as the `json` module writes them with ``ensure_ascii=False``. Its C
    encoder escapes a string one character at a time, about 2 ns each: too slow for the
    8 KB of base64 every submission's binding holds. ASCII without a control character, a
    quote or a backslash, which base64, hex and ids always are, needs no escaping, so
    such a string is written as it is. The tests hold the result to the `rfc8785`
    package.
    """
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode("utf-8")


def _write(value: Any, parts: list[str]) -> None:
    """Append the canonical JSON of `value` to `parts`; subclasses of str and int (enums,
    say) are written as the plain values they hold, as the `json` module writes them."""
    if value is None:
        parts.append("null")
    elif isinstance(value, bool):
        parts.append("true" if value else "false")
    elif isinstance(value, str):
        parts.append(_string(value))
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise ValueError("integer outside the I-JSON range")
        parts.append(int.__repr__(value))
    elif isinstance(value, list):
        parts.append("[")
        for n, item in enumerate(value):
            if n:
                parts.append(",")
            _write(item, parts)
        parts.append("]")
    elif isinstance(value, dict):
        if not all(isinstance(key, str) and key.isascii() for key in value):
            raise ValueError("canonical JSON keys are ASCII strings")
        parts.append("{")
        for n, key in enumerate(sorted(value)):
            if n:
                parts.append(",")
            parts.append(_string(key))
            parts.append(":")
            _write(value[key], parts)
        parts.append("}")
    else:
        raise ValueError(f"canonical JSON cannot hold a {type(value).__name__}")


def _string(text: str) -> str:
    text = str.__str__(text)
    # Deleting every byte that needs no escaping leaves nothing: one pass in C.
    if text.isascii() and not text.encode("ascii").translate(None, _UNESCAPED):
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


def org_verifier(public_key: bytes) -> note.Verifier:
    """The signed-note verifier of the org key."""
    return note.Verifier(ORG_KEY_NAME, note.key_id(ORG_KEY_NAME, public_key), public_key)


def sign_roster(document: dict[str, Any], signer: note.Signer) -> bytes:
    """Sign `document` (canonically encoded) with the org key; returns the signed note.

    Precondition: `signer` is named `ORG_KEY_NAME`. The document is not checked here:
    `open_roster` is the check, and the admin's client runs it on what it signed.
    """
    if signer.name != ORG_KEY_NAME:
        raise ValueError(f"the org key signs as {ORG_KEY_NAME!r}")
    return note.sign_note(canonical_json(document).decode("utf-8") + "\n", [signer])


@dataclass(frozen=True)
class Roster:
    """A roster whose signature and shape have been checked. `document` is all of it."""

    kind: Literal["staff", "public"]
    version: int
    issued: date
    expires: date
    log_key: note.Verifier
    policy: dict[str, Any]
    document: dict[str, Any]

    @property
    def members(self) -> list[dict[str, Any]]:
        """Staff roster: every account. Public roster: the intake recipients only."""
        key = "members" if self.kind == "staff" else "intake"
        members: list[dict[str, Any]] = self.document[key]
        return members


def open_roster(
    signed: bytes, *, org_public_key: bytes, kind: Literal["staff", "public"]
) -> Roster:
    """Verify `signed` against the org key and parse it as a roster of `kind`.

    Raises `RosterError` if the signature does not verify, the text is not the canonical
    encoding of a JSON object, or a field a client relies on is missing or malformed (a
    missing log key included).
    """
    try:
        opened = note.open_note(signed, [org_verifier(org_public_key)])
    except ProofError:
        raise RosterError("the org key did not sign this roster") from None
    text = opened.text.removesuffix("\n")
    try:
        document = json.loads(text)
        canonical = canonical_json(document).decode("utf-8")
    except ValueError:
        raise RosterError("the roster is not canonical JSON") from None
    if canonical != text or not isinstance(document, dict):
        raise RosterError("the roster is not canonical JSON")
    return _parse(document, kind)


def _parse(document: dict[str, Any], kind: Literal["staff", "public"]) -> Roster:
    expected = STAFF_TYPE if kind == "staff" else PUBLIC_TYPE
    if document.get("type") != expected:
        raise RosterError(f"not a {kind} roster")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RosterError("the roster has no valid version")
    log_key = document.get("log_key")
    if not isinstance(log_key, str):
        raise RosterError("the roster names no log key")
    try:
        verifier = note.parse_verifier_key(log_key)
    except KeyFormatError:
        raise RosterError("the roster's log key is malformed") from None
    policy = document.get("policy")
    if not isinstance(policy, dict) or policy.get("recipient_type") not in RECIPIENT_TYPES:
        raise RosterError("the roster has no valid policy")
    if not isinstance(policy.get("recovery_recipient", ""), str):
        raise RosterError("the roster's recovery recipient is malformed")
    members = document.get("members" if kind == "staff" else "intake")
    if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
        raise RosterError("the roster's members are malformed")
    try:
        issued = date.fromisoformat(str(document.get("issued")))
        expires = date.fromisoformat(str(document.get("expires")))
    except ValueError:
        raise RosterError("the roster's dates are malformed") from None
    return Roster(kind, version, issued, expires, verifier, policy, document)


def check_roster(roster: Roster, *, last_version: int | None, today: date) -> None:
    """Refuse a roster older than the last one this client saw, or one that has expired.

    A roster is valid through its `expires` day. Raises `RosterError` saying which.
    """
    if last_version is not None and roster.version < last_version:
        raise RosterError(
            f"roster version {roster.version} is older than version {last_version} "
            "seen before (a rollback)"
        )
    if today > roster.expires:
        raise RosterError(f"the roster expired on {roster.expires.isoformat()}")
