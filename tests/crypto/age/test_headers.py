"""One payload, one header per recipient (DESIGN.md section 3), and re-wrapping for grants."""

from __future__ import annotations

import io

import pytest

import crypto.age
from crypto.age.format import parse_bytes
from crypto.errors import (
    HeaderError,
    HMACError,
    KeyFormatError,
    NoIdentityMatchError,
    PayloadError,
    RecipientError,
)
from tests.crypto.age.support import CHUNK, party

DATA = b"report " * (CHUNK // 3)


def _seal(recipients: list[str]) -> tuple[crypto.age.Sealed, bytes]:
    payload = io.BytesIO()
    sealed = crypto.age.seal(io.BytesIO(DATA), payload, recipients)
    return sealed, payload.getvalue()


@pytest.mark.parametrize("kind", ["pq", "x25519"])
def test_each_per_recipient_header_with_the_shared_payload_is_a_valid_age_file(kind: str) -> None:
    group = [party(kind, n) for n in range(3)]
    sealed, payload = _seal([p.recipient for p in group])
    assert set(sealed.headers) == {p.recipient for p in group}
    for member in group:
        header = sealed.headers[member.recipient]
        assert len(parse_bytes(header).stanzas) == 1
        assert member.decrypt(header + payload) == DATA


def test_a_recipients_header_does_not_open_for_a_colleague() -> None:
    holder, colleague = party("pq", 0), party("pq", 1)
    sealed, payload = _seal([holder.recipient])
    with pytest.raises(NoIdentityMatchError):
        colleague.decrypt(sealed.headers[holder.recipient] + payload)


def test_header_from_another_record_does_not_open_this_payload() -> None:
    someone = party("pq")
    first, _ = _seal([someone.recipient])
    _, second_payload = _seal([someone.recipient])
    dst = io.BytesIO()
    with pytest.raises(PayloadError):
        someone.decrypt_into(first.headers[someone.recipient] + second_payload, dst)
    assert dst.getvalue() == b""


def test_seal_returns_the_file_key_its_headers_carry() -> None:
    someone = party("x25519")
    sealed, payload = _seal([someone.recipient])
    header = sealed.headers[someone.recipient]
    assert crypto.age.unwrap_file_key(header, [someone.identity]) == sealed.file_key
    opened = io.BytesIO()
    crypto.age.open_payload(io.BytesIO(payload), opened, sealed.file_key)
    assert opened.getvalue() == DATA


@pytest.mark.parametrize("kind", ["pq", "x25519"])
def test_grant_by_rewrap_opens_the_same_payload(kind: str) -> None:
    holder, colleague = party(kind, 0), party(kind, 1)
    sealed, payload = _seal([holder.recipient])
    granted = crypto.age.rewrap(
        sealed.headers[holder.recipient], [holder.identity], [colleague.recipient]
    )
    assert colleague.decrypt(granted + payload) == DATA
    with pytest.raises(NoIdentityMatchError):
        holder.decrypt(granted + payload)


def test_rewrap_by_someone_without_access_is_no_match() -> None:
    holder, outsider = party("pq", 0), party("pq", 1)
    sealed, _ = _seal([holder.recipient])
    with pytest.raises(NoIdentityMatchError):
        crypto.age.rewrap(
            sealed.headers[holder.recipient], [outsider.identity], [outsider.recipient]
        )


def test_rewrap_to_a_classical_recipient_next_to_a_post_quantum_one_is_refused() -> None:
    holder = party("pq")
    sealed, _ = _seal([holder.recipient])
    with pytest.raises(RecipientError):
        crypto.age.rewrap(
            sealed.headers[holder.recipient],
            [holder.identity],
            [party("pq", 1).recipient, party("x25519").recipient],
        )


def test_make_header_then_unwrap_gives_back_the_file_key() -> None:
    file_key = crypto.age.new_file_key()
    group = [party("pq", n) for n in range(2)]
    header = crypto.age.make_header(file_key, [p.recipient for p in group])
    assert header.endswith(b"\n")
    assert b"\n--- " in header
    for member in group:
        assert crypto.age.unwrap_file_key(header, [member.identity]) == file_key


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_a_file_key_of_the_wrong_size_is_refused_everywhere(size: int) -> None:
    with pytest.raises(KeyFormatError):
        crypto.age.make_header(bytes(size), [party("pq").recipient])
    with pytest.raises(KeyFormatError):
        crypto.age.seal_payload(io.BytesIO(b"x"), io.BytesIO(), bytes(size))
    with pytest.raises(KeyFormatError):
        crypto.age.open_payload(io.BytesIO(bytes(64)), io.BytesIO(), bytes(size))


def test_unwrap_file_key_with_a_passphrase() -> None:
    age_file = party("scrypt").encrypt(b"identity file")
    header, _ = crypto.age.split_header(io.BytesIO(age_file))
    key = crypto.age.unwrap_file_key(header, [], passphrase=party("scrypt").identity)
    assert len(key) == 16


def test_stanza_moved_into_another_header_fails_the_mac() -> None:
    someone = party("x25519")
    first = crypto.age.make_header(crypto.age.new_file_key(), [someone.recipient])
    second = crypto.age.make_header(crypto.age.new_file_key(), [someone.recipient])
    forged = first[: first.index(b"\n---") + 1] + second[second.index(b"\n---") + 1 :]
    with pytest.raises(HMACError):
        crypto.age.unwrap_file_key(forged, [someone.identity])


def test_unwrap_file_key_refuses_bytes_after_the_header() -> None:
    someone = party("x25519")
    header = crypto.age.make_header(crypto.age.new_file_key(), [someone.recipient])
    with pytest.raises(HeaderError):
        crypto.age.unwrap_file_key(header + b"payload", [someone.identity])


def test_split_header_returns_the_header_and_the_start_of_the_payload() -> None:
    someone = party("pq")
    sealed, payload = _seal([someone.recipient])
    header = sealed.headers[someone.recipient]
    src = io.BytesIO(header + payload)
    found, payload_head = crypto.age.split_header(src)
    assert found == header
    assert payload_head + src.read() == payload
