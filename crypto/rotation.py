"""Org key rotation statements: a new org key, announced by the key it replaces.

A statement is a JSON document, canonically encoded (`crypto.roster.canonical_json`),
followed by one newline and signed as a C2SP signed note by **both** keys under the org
key name: the old key's signature is the authority (only the holder of the pinned key can
hand it over), the new key's proves its holder has it (no one can announce a key they
cannot sign with). Serials run 1, 2, ... so a client replays them in order.

A client pinned to a key trusts a later one only through `follow`: an unbroken chain of
statements from its pinned key, each signed by the key before it. Everything here is a
pure function on bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from crypto import note
from crypto.errors import CryptoError, ProofError
from crypto.roster import ORG_KEY_NAME, canonical_json, fingerprint, org_verifier

ROTATION_TYPE: Final = "tvault-org-key-rotation/v1"


class RotationError(CryptoError):
    """A rotation statement, or a chain of them, that a client may not follow."""

    summary = "the org key rotation is not acceptable"


@dataclass(frozen=True)
class Rotation:
    """A statement whose two signatures and shape have been checked."""

    serial: int
    old_key: bytes
    new_key: bytes
    issued: date


def sign_rotation(*, serial: int, old: note.Signer, new: note.Signer, issued: date) -> bytes:
    """The statement that `new` succeeds `old` as the org key, signed by both.

    Precondition: both signers are named `ORG_KEY_NAME` and differ.
    """
    if old.name != ORG_KEY_NAME or new.name != ORG_KEY_NAME:
        raise ValueError(f"org keys sign as {ORG_KEY_NAME!r}")
    old_key, new_key = old.verifier.public_key, new.verifier.public_key
    if old_key == new_key:
        raise ValueError("a rotation needs a new key")
    document = {
        "type": ROTATION_TYPE,
        "serial": serial,
        "old_key": base64.b64encode(old_key).decode("ascii"),
        "new_key": base64.b64encode(new_key).decode("ascii"),
        "old_fingerprint": fingerprint(old_key),
        "new_fingerprint": fingerprint(new_key),
        "issued": issued.isoformat(),
    }
    return note.sign_note(canonical_json(document).decode("utf-8") + "\n", [old, new])


def open_rotation(signed: bytes, *, old_public_key: bytes) -> Rotation:
    """Verify that the key `old_public_key` handed over to the key `signed` names.

    Raises `RotationError` saying what is wrong: not signed by the old key, naming another
    old key, not signed by the new key, or malformed.
    """
    try:
        opened = note.open_note(signed, [org_verifier(old_public_key)])
    except ProofError:
        raise RotationError(
            f"the statement is not signed by the org key {fingerprint(old_public_key)} "
            "it claims to replace (forged, or not from that key)"
        ) from None
    rotation = _parse(opened.text)
    if rotation.old_key != old_public_key:
        raise RotationError(
            f"the statement replaces {fingerprint(rotation.old_key)}, not "
            f"{fingerprint(old_public_key)}"
        )
    try:
        note.open_note(signed, [org_verifier(rotation.new_key)])
    except ProofError:
        raise RotationError(
            f"the new key {fingerprint(rotation.new_key)} did not sign its own announcement"
        ) from None
    return rotation


def announced_old_key(signed: bytes) -> bytes:
    """The old key a statement claims to replace, UNVERIFIED: only to find where a chain
    starts from a fingerprint; `follow` then checks every signature."""
    try:
        text = signed.decode("utf-8").split("\n\n", 1)[0] + "\n"
    except UnicodeDecodeError:
        raise RotationError("the statement is not UTF-8") from None
    return _parse(text).old_key


def follow(statements: Sequence[bytes], *, pinned_key: bytes, current_key: bytes) -> list[Rotation]:
    """The rotations that lead from `pinned_key` to `current_key`, each verified.

    `statements` are every statement the server serves, in serial order. The chain starts
    at the statement replacing `pinned_key` and must reach `current_key` through
    consecutive serials, each signed by the key before it, never returning to a key it
    left. Returns [] when the keys are equal. Raises `RotationError` saying where it broke.
    """
    if pinned_key == current_key:
        return []
    opened: list[Rotation] = []
    key, seen = pinned_key, {pinned_key}
    start = next(
        (i for i, s in enumerate(statements) if _claims_old(s) == pinned_key),
        None,
    )
    if start is None:
        raise RotationError(
            f"no rotation statement hands over from the pinned org key {fingerprint(pinned_key)}"
        )
    for signed in statements[start:]:
        rotation = open_rotation(signed, old_public_key=key)
        if opened and rotation.serial != opened[-1].serial + 1:
            raise RotationError(
                f"the chain is broken: statement {rotation.serial} follows "
                f"statement {opened[-1].serial}"
            )
        if rotation.new_key in seen:
            raise RotationError("the chain returns to a key it already left")
        opened.append(rotation)
        key = rotation.new_key
        seen.add(key)
        if key == current_key:
            return opened
    raise RotationError(
        f"the chain from {fingerprint(pinned_key)} ends at {fingerprint(key)}, not at the "
        f"org key the server presents ({fingerprint(current_key)})"
    )


def _claims_old(signed: bytes) -> bytes | None:
    try:
        return announced_old_key(signed)
    except RotationError:
        return None


def _parse(text: str) -> Rotation:
    body = text.removesuffix("\n")
    try:
        document: Any = json.loads(body)
        canonical = canonical_json(document).decode("utf-8")
    except ValueError:
        raise RotationError("the statement is not canonical JSON") from None
    if canonical != body or not isinstance(document, dict):
        raise RotationError("the statement is not canonical JSON")
    if document.get("type") != ROTATION_TYPE:
        raise RotationError("not an org key rotation statement")
    serial = document.get("serial")
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
        raise RotationError("the statement has no valid serial")
    try:
        old_key = base64.b64decode(str(document.get("old_key")), validate=True)
        new_key = base64.b64decode(str(document.get("new_key")), validate=True)
        issued = date.fromisoformat(str(document.get("issued")))
    except (binascii.Error, ValueError):
        raise RotationError("the statement's keys or date are malformed") from None
    if len(old_key) != 32 or len(new_key) != 32 or old_key == new_key:
        raise RotationError("the statement's keys are malformed")
    if (document.get("old_fingerprint"), document.get("new_fingerprint")) != (
        fingerprint(old_key),
        fingerprint(new_key),
    ):
        raise RotationError("the statement's fingerprints do not match its keys")
    return Rotation(serial, old_key, new_key, issued)
