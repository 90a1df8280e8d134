"""Roster verification (crypto.roster) and enrolment MACs (crypto.enrolment), named after
the attack each case models."""

from __future__ import annotations

import enum
import json
from datetime import date, timedelta
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import enrolment, note, roster
from crypto.errors import KeyFormatError
from crypto.roster import RosterError

LOG = note.Signer.generate("testimony-vault/0123456789abcdef")
TODAY = date(2026, 11, 28)


def _org() -> tuple[note.Signer, bytes]:
    signer = note.Signer(roster.ORG_KEY_NAME, Ed25519PrivateKey.generate())
    return signer, signer.verifier.public_key


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": roster.STAFF_TYPE,
        "org": {"name": "Ünïcode Org 한국", "fingerprint": "X"},
        "version": 3,
        "issued": "2026-11-28",
        "expires": "2027-02-26",
        "policy": {"recipient_type": "pq"},
        "log_key": LOG.verifier.vkey,
        "members": [{"id": "abc", "username": "kim", "role": "intake", "recipient": "age1pq1x"}],
    }
    document.update(changes)
    return document


def test_fingerprint_is_eight_groups_of_base32_and_normalises() -> None:
    _, public = _org()
    fingerprint = roster.fingerprint(public)
    assert len(fingerprint.split("-")) == 8
    assert all(len(group) == 4 for group in fingerprint.split("-"))
    assert roster.normalise_fingerprint(fingerprint.lower().replace("-", " ")) == fingerprint


@pytest.mark.parametrize("text", ["", "ABCD", "not a fingerprint at all!", "A" * 31])
def test_a_malformed_fingerprint_is_refused(text: str) -> None:
    with pytest.raises(KeyFormatError):
        roster.normalise_fingerprint(text)


def test_canonical_json_is_rfc8785_for_roster_values() -> None:
    document = _document()
    assert roster.canonical_json(document) == rfc8785.dumps(document)


#: Any value of the canonical subset: ASCII keys, I-JSON integers, any text without lone
#: surrogates (controls, quotes, backslashes, U+2028, non-BMP characters included).
_TEXT = st.text(st.characters(exclude_categories=["Cs"]))
_CANONICAL = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1) | _TEXT,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(st.characters(max_codepoint=127)), inner, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(_CANONICAL)
def test_canonical_json_is_rfc8785_over_its_whole_subset(value: Any) -> None:
    assert roster.canonical_json(value) == rfc8785.dumps(value)


def test_canonical_json_writes_subclasses_as_their_plain_values() -> None:
    class Kind(str, enum.Enum):  # noqa: UP042 - a mixin's str() is not its value
        REPORT = "report"

    class Count(enum.IntEnum):
        TWO = 2

    value = {"kind": Kind.REPORT, "n": Count.TWO, Kind.REPORT: [True, None]}
    assert roster.canonical_json(value) == b'{"kind":"report","n":2,"report":[true,null]}'


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({"version": 1.5}, "cannot hold a float"),
        ({"n": 2**53}, "outside the I-JSON range"),
        ({"n": -(2**53)}, "outside the I-JSON range"),
        ({1: "x"}, "keys are ASCII strings"),
        ({"ключ": 1}, "keys are ASCII strings"),
        (("a",), "cannot hold a tuple"),
        ("\ud800", "surrogate"),
    ],
    ids=["float", "int-too-big", "int-too-small", "int-key", "non-ascii-key", "tuple", "surrogate"],
)
def test_canonical_json_refuses_what_is_outside_its_subset(value: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        roster.canonical_json(value)


def test_a_signed_roster_opens_with_the_org_key() -> None:
    signer, public = _org()
    opened = roster.open_roster(
        roster.sign_roster(_document(), signer), org_public_key=public, kind="staff"
    )
    assert opened.version == 3
    assert opened.log_key == LOG.verifier
    assert opened.members[0]["username"] == "kim"


def test_roster_signed_by_another_key_is_refused() -> None:
    signer, _ = _org()
    _, other = _org()
    with pytest.raises(RosterError, match="did not sign"):
        roster.open_roster(
            roster.sign_roster(_document(), signer), org_public_key=other, kind="staff"
        )


def test_tampered_roster_is_refused() -> None:
    signer, public = _org()
    signed = roster.sign_roster(_document(), signer)
    tampered = signed.replace(b'"role":"intake"', b'"role":"admin!"')
    assert tampered != signed
    with pytest.raises(RosterError):
        roster.open_roster(tampered, org_public_key=public, kind="staff")


def test_non_canonical_roster_is_refused_even_if_signed() -> None:
    signer, public = _org()
    text = json.dumps(_document(), indent=1).replace("\n", " ") + "\n"
    with pytest.raises(RosterError, match="canonical"):
        roster.open_roster(note.sign_note(text, [signer]), org_public_key=public, kind="staff")


def test_public_roster_is_not_accepted_as_staff_roster() -> None:
    signer, public = _org()
    signed = roster.sign_roster(_document(type=roster.PUBLIC_TYPE, intake=[]), signer)
    with pytest.raises(RosterError, match="staff"):
        roster.open_roster(signed, org_public_key=public, kind="staff")
    assert roster.open_roster(signed, org_public_key=public, kind="public").members == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"log_key": None}, "no log key"),
        ({"log_key": "not+a+key"}, "log key is malformed"),
        ({"version": 0}, "version"),
        ({"version": True}, "version"),
        ({"policy": {"recipient_type": "rsa"}}, "policy"),
        ({"expires": "someday"}, "dates"),
        ({"members": "everyone"}, "members"),
    ],
    ids=["no-log-key", "bad-log-key", "version-0", "version-bool", "policy", "dates", "members"],
)
def test_malformed_roster_is_refused(changes: dict[str, Any], message: str) -> None:
    signer, public = _org()
    document = {k: v for k, v in _document(**changes).items() if v is not None}
    with pytest.raises(RosterError, match=message):
        roster.open_roster(
            roster.sign_roster(document, signer), org_public_key=public, kind="staff"
        )


def _opened(**changes: Any) -> roster.Roster:
    signer, public = _org()
    signed = roster.sign_roster(_document(**changes), signer)
    return roster.open_roster(signed, org_public_key=public, kind="staff")


def test_rolled_back_roster_is_refused() -> None:
    with pytest.raises(RosterError, match="rollback"):
        roster.check_roster(_opened(version=2), last_version=3, today=TODAY)
    roster.check_roster(_opened(version=3), last_version=3, today=TODAY)


def test_expired_roster_is_refused_the_day_after_it_expires() -> None:
    opened = _opened(expires=TODAY.isoformat())
    roster.check_roster(opened, last_version=None, today=TODAY)
    with pytest.raises(RosterError, match="expired"):
        roster.check_roster(opened, last_version=None, today=TODAY + timedelta(days=1))


def _mac(secret: str, **changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "code_id": "ABCDEFGH",
        "username": "kim",
        "recipient": "age1pq1x",
        "verify_key": bytes(32),
    }
    fields.update(changes)
    return enrolment.enrolment_mac(secret, **fields)


@pytest.mark.parametrize(
    "changes",
    [
        {"verify_key": bytes([1]) + bytes(31)},
        {"recipient": "age1pq1y"},
        {"username": "lee"},
        {"code_id": "ABCDEFGI"},
    ],
    ids=["swapped-verify-key", "swapped-recipient", "mac-replayed-for-other-user", "other-code"],
)
def test_enrolment_mac_catches_a_swap(changes: dict[str, Any]) -> None:
    secret = enrolment.new_secret_half()
    assert not enrolment.mac_matches(_mac(secret), _mac(secret, **changes))
    assert enrolment.mac_matches(_mac(secret), _mac(secret))


def test_enrolment_code_round_trips_and_refuses_garbage() -> None:
    code = enrolment.EnrolmentCode("ABCDEFGH", "SERVERHALF", enrolment.new_secret_half())
    assert enrolment.parse_code(f"  {str(code).lower()} ") == code
    for bad in ("", "A-B", "A-B-C-D", "A-B-1", "A--B"):
        with pytest.raises(KeyFormatError):
            enrolment.parse_code(bad)
