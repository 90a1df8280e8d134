"""Hypothesis on the parsers that read what an attacker may write: whatever the input, only
the parser's own error escapes. The age header parser has its own (tests/crypto/age/
test_fuzz.py), and so do checkpoint texts (tests/crypto/merkle/test_checkpoint.py); here
the report schema, the roster, signed notes and signed checkpoints as a whole."""

from __future__ import annotations

import contextlib
import json
from datetime import date
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from crypto import note, roster
from crypto.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from crypto.errors import CryptoError, ProofError
from vault.errors import Invalid
from vault.report import Report, parse_report, template

ORG = note.Signer.generate(roster.ORG_KEY_NAME)
LOG = note.Signer.generate("vault.example/log")

SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
# JSON-ish: what json.loads could give, and a little more (floats include NaN).
JSONISH = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
TEMPLATE: dict[str, Any] = json.loads(template("en"))


def _parse_report_or_invalid(data: bytes | str) -> Report | None:
    try:
        return parse_report(data)
    except Invalid:
        return None


@given(st.binary(max_size=400))
@example(b"[" * 100_000)
@example(b'{"a": 1, "a": 2}')
@example(b"\xef\xbb\xbfNaN")
def test_any_bytes_are_a_report_or_invalid(data: bytes) -> None:
    _parse_report_or_invalid(data)


@given(JSONISH)
def test_any_json_value_is_a_report_or_invalid(value: Any) -> None:
    _parse_report_or_invalid(json.dumps(value))


def _replace_at(document: Any, path: list[int], value: Any) -> Any:
    """`document` with the node chosen by `path` (indices into sorted keys) replaced."""
    if not path or not isinstance(document, (dict, list)) or not document:
        return value
    if isinstance(document, dict):
        keys = sorted(document)
        key = keys[path[0] % len(keys)]
        return {**document, key: _replace_at(document[key], path[1:], value)}
    index = path[0] % len(document)
    return [
        *document[:index],
        _replace_at(document[index], path[1:], value),
        *document[index + 1 :],
    ]


@given(st.lists(st.integers(0, 50), max_size=5), JSONISH)
def test_a_template_with_any_field_replaced_is_a_report_or_invalid(
    path: list[int], value: Any
) -> None:
    _parse_report_or_invalid(json.dumps(_replace_at(TEMPLATE, path, value)))


def _open_roster(data: bytes, kind: Any) -> None:
    with contextlib.suppress(roster.RosterError, CryptoError):
        roster.open_roster(data, org_public_key=ORG.verifier.public_key, kind=kind)


@given(st.binary(max_size=600), st.sampled_from(["staff", "public"]))
def test_any_bytes_open_as_a_roster_or_raise_roster_error(data: bytes, kind: str) -> None:
    _open_roster(data, kind)


def _signed(document: Any) -> bytes:
    return note.sign_note(roster.canonical_json(document).decode() + "\n", [ORG])


VALID_ROSTER = {
    "type": roster.STAFF_TYPE,
    "version": 1,
    "log_key": LOG.verifier.vkey,
    "policy": {"recipient_type": sorted(roster.RECIPIENT_TYPES)[0]},
    "members": [],
    "issued": date(2026, 1, 1).isoformat(),
    "expires": date(2027, 1, 1).isoformat(),
}


@given(st.lists(st.integers(0, 50), max_size=3), JSONISH, st.sampled_from(["staff", "public"]))
def test_a_signed_roster_with_any_field_replaced_opens_or_raises_roster_error(
    path: list[int], value: Any, kind: str
) -> None:
    # Signed by the org key: only the parser stands between the document and the client.
    try:
        signed = _signed(_replace_at(VALID_ROSTER, path, value))
    except ValueError:
        return  # not encodable as canonical JSON (a float, say): no org would sign it
    _open_roster(signed, kind)


@given(st.binary(max_size=600))
@example(b"text\n\n\xe2\x80\x94 name AAAA\n")
def test_any_bytes_open_as_a_note_or_raise_proof_error(data: bytes) -> None:
    try:
        opened = note.open_note(data, [ORG.verifier])
    except ProofError:
        return
    assert any(s.name == ORG.name for s in opened.signatures)


@given(st.text(max_size=300))
def test_any_text_signed_by_the_log_opens_as_a_checkpoint_or_raises_proof_error(
    text: str,
) -> None:
    # The signature verifies, so the parser alone must refuse a malformed text.
    try:
        signed = note.sign_note(text, [LOG])
    except (ValueError, ProofError):
        return  # not a note text at all: nothing to sign
    try:
        checkpoint, _ = open_checkpoint(signed, origin="vault.example/log", log=LOG.verifier)
    except ProofError:
        return
    assert checkpoint.text() == text


@given(st.binary(max_size=200), st.integers(0, 300))
def test_a_signed_checkpoint_with_any_bytes_spliced_in_raises_only_proof_error(
    junk: bytes, at: int
) -> None:
    signed = sign_checkpoint(Checkpoint("vault.example/log", 3, bytes(32)), LOG)
    at %= len(signed) + 1
    with contextlib.suppress(ProofError):
        open_checkpoint(
            signed[:at] + junk + signed[at:], origin="vault.example/log", log=LOG.verifier
        )
