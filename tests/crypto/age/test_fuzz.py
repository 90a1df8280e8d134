"""Fuzzing the parsers: whatever the bytes, only a specific CryptoError escapes.

"Specific" means never the bare DecryptError that ``decrypt`` keeps as a last-resort net:
these tests show the net is never needed. And nothing but a prefix of the genuine
plaintext is ever released.
"""

from __future__ import annotations

import contextlib
import io

from hypothesis import example, given
from hypothesis import strategies as st

import crypto.age
from crypto.age import bech32
from crypto.age.format import Header, Stanza, parse_bytes
from crypto.errors import CryptoError, DecryptError, HeaderError, KeyFormatError
from tests.crypto.age.support import CHUNK, party

VCHAR = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
PLAINTEXT = b"the testimony " * (CHUNK // 7)  # two chunks


def _decrypt_outcome(age_file: bytes) -> tuple[CryptoError | None, bytes]:
    dst = io.BytesIO()
    try:
        crypto.age.decrypt(io.BytesIO(age_file), dst, [party("x25519").identity])
    except CryptoError as error:
        caught: CryptoError | None = error
    else:
        caught = None
    assert type(caught) is not DecryptError, f"safety net caught {caught.__cause__!r}"
    return caught, dst.getvalue()


@given(st.binary(max_size=600))
@example(b"age-encryption.org/v1\n-> X25519\n\n--- \n")
@example(b"age-encryption.org/v1\n-> \xff\n\n")
def test_header_parser_accepts_only_canonical_headers(data: bytes) -> None:
    try:
        header = parse_bytes(data)
    except HeaderError:
        return
    assert header.marshal() == data


@given(
    stanzas=st.lists(
        st.tuples(VCHAR, st.lists(VCHAR, max_size=3), st.binary(max_size=200)), min_size=1
    ),
    mac=st.binary(min_size=32, max_size=32),
)
def test_any_well_formed_header_survives_marshal_and_parse(
    stanzas: list[tuple[str, list[str], bytes]], mac: bytes
) -> None:
    header = Header(tuple(Stanza(t, tuple(a), b) for t, a, b in stanzas), mac)
    assert parse_bytes(header.marshal()) == header


@given(st.binary(max_size=2000))
@example(b"")
@example(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
@example(b"age-encryption.org/v1\n-> scrypt AAAAAAAAAAAAAAAAAAAAAA 99\n\n")
def test_decrypt_of_arbitrary_bytes_raises_only_specific_crypto_errors(data: bytes) -> None:
    error, released = _decrypt_outcome(data)
    assert error is not None
    assert released == b""


def _sealed(armor: bool) -> bytes:
    return party("x25519").encrypt(PLAINTEXT, armor=armor)


BINARY_FILE = _sealed(False)
ARMORED_FILE = _sealed(True)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([BINARY_FILE, ARMORED_FILE])))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        else:
            del data[position:]
    return bytes(data)


@given(mutated())
def test_decrypt_of_a_mutated_file_releases_only_genuine_plaintext(data: bytes) -> None:
    error, released = _decrypt_outcome(data)
    assert released == PLAINTEXT[: len(released)]
    if error is None:
        assert released == PLAINTEXT
    else:
        assert len(released) % CHUNK == 0


@given(hrp=st.sampled_from(["age", "age1pq", "AGE-SECRET-KEY-"]), data=st.binary(max_size=1300))
def test_bech32_round_trips_beyond_the_bip173_length_limit(hrp: str, data: bytes) -> None:
    assert bech32.decode(bech32.encode(hrp, data)) == (hrp.lower(), data)
    assert bech32.decode(bech32.encode(hrp, data).upper()) == (hrp.upper(), data)


@given(st.text(max_size=120))
def test_bech32_decode_of_arbitrary_text_raises_only_key_format_error(text: str) -> None:
    with contextlib.suppress(KeyFormatError):
        bech32.decode(text)
