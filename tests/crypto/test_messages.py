"""Signed replies and grant statements, and the follow-up MAC message."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crypto import messages
from crypto.errors import ProofError

RECORD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
AUTHOR = "AUTHOR234567ABCDEFGHIJKLMN"


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_reply_round_trip_keeps_korean_and_newlines(key: Ed25519PrivateKey) -> None:
    signed = messages.sign_reply(
        record=RECORD, sequence=3, author=AUTHOR, message="안녕하세요\n둘째 줄", signing_key=key
    )
    reply = messages.open_reply(signed, verify_keys={AUTHOR: _raw(key)})
    assert reply == messages.Reply(RECORD, 3, AUTHOR, "안녕하세요\n둘째 줄")


def test_forged_reply_by_another_key(key: Ed25519PrivateKey) -> None:
    forger = Ed25519PrivateKey.generate()
    signed = messages.sign_reply(
        record=RECORD, sequence=1, author=AUTHOR, message="come to the border", signing_key=forger
    )
    with pytest.raises(ProofError):
        messages.open_reply(signed, verify_keys={AUTHOR: _raw(key)})


def test_reply_by_author_not_on_roster(key: Ed25519PrivateKey) -> None:
    signed = messages.sign_reply(
        record=RECORD, sequence=1, author=AUTHOR, message="x", signing_key=key
    )
    with pytest.raises(ProofError, match="not on the roster"):
        messages.open_reply(signed, verify_keys={})


def test_edited_reply_text(key: Ed25519PrivateKey) -> None:
    signed = messages.sign_reply(
        record=RECORD, sequence=1, author=AUTHOR, message="wait", signing_key=key
    )
    with pytest.raises(ProofError):
        messages.open_reply(signed.replace(b"wait", b"goto"), verify_keys={AUTHOR: _raw(key)})


def test_grant_is_not_a_reply(key: Ed25519PrivateKey) -> None:
    grant = messages.sign_grant(
        record=RECORD, target=AUTHOR, recipient="age1x", author=AUTHOR, signing_key=key
    )
    assert messages.open_grant(grant, verify_keys={AUTHOR: _raw(key)}).target == AUTHOR
    with pytest.raises(ProofError, match="not a"):
        messages.open_reply(grant, verify_keys={AUTHOR: _raw(key)})


@pytest.mark.parametrize("garbage", [b"", b"\n\n", b"{}\n\nx", b"\xff\xfe\n\n"])
def test_garbage_is_a_proof_error(key: Ed25519PrivateKey, garbage: bytes) -> None:
    with pytest.raises(ProofError):
        messages.open_reply(garbage, verify_keys={AUTHOR: _raw(key)})


def test_followup_message_binds_record_and_sequence() -> None:
    digest = hashlib.sha256(b"sealed").digest()
    one = messages.followup_message(record=RECORD, sequence=1, sealed_sha256=digest)
    assert one != messages.followup_message(record=RECORD, sequence=2, sealed_sha256=digest)
    assert one != messages.followup_message(record=AUTHOR, sequence=1, sealed_sha256=digest)
    with pytest.raises(ValueError, match="starts at 1"):
        messages.followup_message(record=RECORD, sequence=0, sealed_sha256=digest)
    with pytest.raises(ValueError, match="digest"):
        messages.followup_message(record=RECORD, sequence=1, sealed_sha256=b"short")
