"""Round trips for every recipient type, binary and armored, around chunk boundaries."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crypto.age
from tests.crypto.age.support import CHUNK, KINDS, TrickleReader, party

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7]


def _plaintext(size: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(size))


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", SIZES)
def test_round_trip_at_chunk_boundary(size: int, kind: str, armor: bool) -> None:
    data = _plaintext(size)
    someone = party(kind)
    assert someone.decrypt(someone.encrypt(data, armor=armor)) == data


@pytest.mark.parametrize("size", SIZES)
def test_payload_size_is_nonce_plus_one_tag_per_chunk(size: int) -> None:
    payload = io.BytesIO()
    crypto.age.seal_payload(io.BytesIO(_plaintext(size)), payload, crypto.age.new_file_key())
    chunks = max(1, -(-size // CHUNK))
    assert len(payload.getvalue()) == 16 + size + 16 * chunks


@pytest.mark.parametrize("step", [1, 7, 1000, CHUNK + 3])
def test_decrypt_from_a_source_that_returns_short_reads(step: int) -> None:
    data = _plaintext(2 * CHUNK + 5)
    someone = party("x25519")
    for armor in (False, True):
        dst = io.BytesIO()
        source = TrickleReader(someone.encrypt(data, armor=armor), step)
        crypto.age.decrypt(source, dst, [someone.identity])  # type: ignore[arg-type]
        assert dst.getvalue() == data


def test_encrypt_from_a_source_that_returns_short_reads() -> None:
    data = _plaintext(CHUNK + 100)
    someone = party("pq")
    dst = io.BytesIO()
    crypto.age.encrypt(TrickleReader(data, 999), dst, [someone.recipient])  # type: ignore[arg-type]
    assert someone.decrypt(dst.getvalue()) == data


@given(
    data=st.binary(max_size=3000) | st.sampled_from(SIZES).map(_plaintext),
    kind=st.sampled_from(KINDS),
    armor=st.booleans(),
)
def test_round_trip_property(data: bytes, kind: str, armor: bool) -> None:
    someone = party(kind)
    assert someone.decrypt(someone.encrypt(data, armor=armor)) == data


@pytest.mark.parametrize("kind", ["pq", "x25519"])
def test_several_recipients_each_open_the_file(kind: str) -> None:
    group = [party(kind, n) for n in range(3)]
    dst = io.BytesIO()
    crypto.age.encrypt(io.BytesIO(b"testimony"), dst, [p.recipient for p in group])
    for member in group:
        assert member.decrypt(dst.getvalue()) == b"testimony"


@pytest.mark.parametrize("kind", ["pq", "x25519"])
def test_generated_keys_have_the_spec_prefixes(kind: str) -> None:
    identity = crypto.age.generate_identity(kind)  # type: ignore[arg-type]
    recipient = crypto.age.recipient_of(identity)
    if kind == "pq":
        assert identity.startswith("AGE-SECRET-KEY-PQ-1")
        assert recipient.startswith("age1pq1")
    else:
        assert identity.startswith("AGE-SECRET-KEY-1")
        assert recipient.startswith("age1")
        assert not recipient.startswith("age1pq1")


def test_default_identity_is_post_quantum() -> None:
    assert crypto.age.generate_identity().startswith("AGE-SECRET-KEY-PQ-1")
