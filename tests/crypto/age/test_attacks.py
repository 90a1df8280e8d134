"""Attacks on sealed files: each test is named after what the adversary does.

The common property: decrypt raises one specific CryptoError subclass and releases only
whole chunks that authenticated, which are always a prefix of the real plaintext.
"""

from __future__ import annotations

import io

import pytest

import crypto.age
import crypto.age.scrypt
from crypto.age.format import MAX_HEADER_SIZE, MAX_LINE_LENGTH
from crypto.errors import (
    ArmorError,
    CryptoError,
    HeaderError,
    HMACError,
    KeyFormatError,
    NoIdentityMatchError,
    PayloadError,
    RecipientError,
    WorkFactorError,
)
from tests.crypto.age.support import CHUNK, KINDS, PASSPHRASE, EndlessReader, Party, party

PLAINTEXT = bytes(range(256)) * (3 * CHUNK // 256) + b"tail"  # three full chunks + 4 bytes
SEALED_CHUNK = CHUNK + 16


def _opened(someone: Party, age_file: bytes) -> tuple[CryptoError | None, bytes]:
    dst = io.BytesIO()
    try:
        someone.decrypt_into(age_file, dst)
    except CryptoError as error:
        return error, dst.getvalue()
    return None, dst.getvalue()


def _header_length(age_file: bytes) -> int:
    header, _ = crypto.age.split_header(io.BytesIO(age_file))
    return len(header)


@pytest.fixture(scope="module")
def sealed() -> tuple[Party, bytes, int]:
    someone = party("x25519")
    age_file = someone.encrypt(PLAINTEXT)
    return someone, age_file, _header_length(age_file)


def test_truncation_anywhere_in_the_header_is_a_header_failure(
    sealed: tuple[Party, bytes, int],
) -> None:
    someone, age_file, header_end = sealed
    for cut in range(header_end + 16):  # the 16-byte payload nonce counts as header
        error, released = _opened(someone, age_file[:cut])
        assert isinstance(error, HeaderError), cut
        assert released == b""


def test_truncation_in_the_payload_releases_only_whole_authenticated_chunks(
    sealed: tuple[Party, bytes, int],
) -> None:
    someone, age_file, header_end = sealed
    start = header_end + 16
    cuts = [0, 1, 15, 16, SEALED_CHUNK - 1, SEALED_CHUNK, SEALED_CHUNK + 1, 2 * SEALED_CHUNK]
    cuts += [3 * SEALED_CHUNK, 3 * SEALED_CHUNK + 19, len(age_file) - start - 1]
    for cut in cuts:
        error, released = _opened(someone, age_file[: start + cut])
        assert isinstance(error, PayloadError), cut
        assert released == PLAINTEXT[: len(released)]
        assert len(released) == min(cut // SEALED_CHUNK, 3) * CHUNK, cut


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_identity_is_no_match(kind: str) -> None:
    age_file = party(kind, 0).encrypt(b"for someone else")
    error, released = _opened(party(kind, 1), age_file)
    assert isinstance(error, NoIdentityMatchError)
    assert released == b""


def test_identity_of_another_type_is_no_match() -> None:
    age_file = party("pq").encrypt(b"post-quantum only")
    error, _ = _opened(party("x25519"), age_file)
    assert isinstance(error, NoIdentityMatchError)


@pytest.mark.parametrize("kind", ["pq", "x25519"])
def test_flipped_bit_anywhere_in_the_header_never_opens(kind: str) -> None:
    someone = party(kind)
    age_file = someone.encrypt(b"short")
    header_end = _header_length(age_file)
    for position in range(header_end):
        forged = bytearray(age_file)
        forged[position] ^= 0x01
        error, released = _opened(someone, bytes(forged))
        # A changed first byte no longer looks binary, so the armor reader refuses it.
        assert isinstance(error, (HeaderError, NoIdentityMatchError, ArmorError)), position
        assert released == b""


def test_header_mac_from_another_file_is_an_hmac_failure() -> None:
    someone = party("x25519")
    first, second = someone.encrypt(b"one"), someone.encrypt(b"two")
    mac_line = first.index(b"\n---") + 1
    forged = first[:mac_line] + second[second.index(b"\n---") + 1 :]
    error, released = _opened(someone, forged)
    assert isinstance(error, HMACError)
    assert released == b""


@pytest.mark.parametrize("chunk", [0, 1, 3])
def test_flipped_bit_in_a_payload_chunk_stops_before_that_chunk(
    sealed: tuple[Party, bytes, int], chunk: int
) -> None:
    someone, age_file, header_end = sealed
    forged = bytearray(age_file)
    forged[header_end + 16 + chunk * SEALED_CHUNK + 5] ^= 0x80
    error, released = _opened(someone, bytes(forged))
    assert isinstance(error, PayloadError)
    assert released == PLAINTEXT[: chunk * CHUNK]


def test_swapped_payload_chunks_are_refused(sealed: tuple[Party, bytes, int]) -> None:
    someone, age_file, header_end = sealed
    start = header_end + 16
    first = age_file[start : start + SEALED_CHUNK]
    second = age_file[start + SEALED_CHUNK : start + 2 * SEALED_CHUNK]
    forged = age_file[:start] + second + first + age_file[start + 2 * SEALED_CHUNK :]
    error, released = _opened(someone, forged)
    assert isinstance(error, PayloadError)
    assert released == b""


@pytest.mark.parametrize("extra", [b"\x00", b"x" * 17, b"y" * SEALED_CHUNK])
def test_data_appended_after_the_final_chunk_is_refused(
    sealed: tuple[Party, bytes, int], extra: bytes
) -> None:
    someone, age_file, _ = sealed
    error, released = _opened(someone, age_file + extra)
    assert isinstance(error, PayloadError)
    # The appended bytes join the short final chunk, which then fails to authenticate.
    assert released == PLAINTEXT[: 3 * CHUNK]


def test_payload_of_another_file_under_this_header_is_refused() -> None:
    someone = party("pq")
    mine, theirs = someone.encrypt(b"mine"), someone.encrypt(b"theirs")
    forged = mine[: _header_length(mine)] + theirs[_header_length(theirs) :]
    error, released = _opened(someone, forged)
    assert isinstance(error, PayloadError)
    assert released == b""


def _scrypt_file(work_factor: str) -> bytes:
    genuine = party("scrypt").encrypt(b"x")
    return genuine.replace(b" 2\n", b" " + work_factor.encode() + b"\n", 1)


@pytest.mark.parametrize("work_factor", ["23", "30", "64", "99", "4294967296", "9" * 5000])
def test_absurd_scrypt_work_factor_is_refused_before_any_work(
    work_factor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> bytes:
        raise AssertionError("scrypt ran on a work factor it should have refused")

    age_file = _scrypt_file(work_factor)
    monkeypatch.setattr(crypto.age.scrypt, "_derive", refuse)
    error, _ = _opened(party("scrypt"), age_file)
    assert isinstance(error, WorkFactorError)


def test_scrypt_work_factor_above_the_callers_limit_is_refused() -> None:
    age_file = _scrypt_file("10")
    with pytest.raises(WorkFactorError):
        crypto.age.decrypt(
            io.BytesIO(age_file), io.BytesIO(), passphrase=f"{PASSPHRASE} 0", max_work_factor=8
        )


ENDLESS = pytest.mark.parametrize(
    ("prefix", "pattern"),
    [
        pytest.param(*case[1:], id=case[0])
        for case in [
            ("endless-line", b"age-encryption.org/v1\n-> X25519 ", b"A"),
            ("endless-body", b"age-encryption.org/v1\n-> X25519 AAAA\n", b"A" * 64 + b"\n"),
            ("endless-stanzas", b"age-encryption.org/v1\n", b"-> grease\n\n"),
            ("endless-armor-whitespace", b"", b" \n"),
            ("endless-armor-line", b"-----BEGIN AGE ENCRYPTED FILE-----\n", b"QUFB"),
            ("endless-armored-body", b"-----BEGIN AGE ENCRYPTED FILE-----\n", b"QUFB" * 16 + b"\n"),
            ("endless-garbage", b"", b"\xff\x00garbage"),
        ]
    ],
)


@ENDLESS
def test_endless_input_fails_promptly_in_bounded_memory(prefix: bytes, pattern: bytes) -> None:
    source = EndlessReader(prefix, pattern)
    with pytest.raises((HeaderError, ArmorError)):
        crypto.age.decrypt(source, io.BytesIO(), [party("x25519").identity])  # type: ignore[arg-type]
    # Bounded by the header limits (armor inflates by 4/3, plus read-ahead), not by input.
    assert source.served <= 2 * MAX_HEADER_SIZE + 4 * MAX_LINE_LENGTH


def test_mixing_post_quantum_and_classical_recipients_is_refused() -> None:
    recipients = [party("pq").recipient, party("x25519").recipient]
    dst = io.BytesIO()
    with pytest.raises(RecipientError):
        crypto.age.encrypt(io.BytesIO(b"x"), dst, recipients)
    assert dst.getvalue() == b""
    with pytest.raises(RecipientError):
        crypto.age.make_header(crypto.age.new_file_key(), recipients)
    with pytest.raises(RecipientError):
        crypto.age.seal(io.BytesIO(b"x"), dst, recipients)
    assert dst.getvalue() == b""


def test_passphrase_next_to_a_recipient_is_refused() -> None:
    with pytest.raises(RecipientError):
        crypto.age.encrypt(io.BytesIO(b"x"), io.BytesIO(), [party("pq").recipient], passphrase="p")


def test_encrypting_to_nobody_is_refused() -> None:
    with pytest.raises(RecipientError):
        crypto.age.encrypt(io.BytesIO(b"x"), io.BytesIO(), [])


def test_decrypting_with_nothing_is_refused() -> None:
    with pytest.raises(RecipientError):
        crypto.age.decrypt(io.BytesIO(party("pq").encrypt(b"x")), io.BytesIO(), [])


def test_low_order_x25519_recipient_is_refused() -> None:
    from crypto.age import bech32

    with pytest.raises(RecipientError):
        crypto.age.encrypt(io.BytesIO(b"x"), io.BytesIO(), [bech32.encode("age", bytes(32))])


@pytest.mark.parametrize(
    "key",
    [
        "",
        "age1",
        "not a key",
        "AGE-SECRET-KEY-1QQQQ",
        "AGE-SECRET-KEY-1" + "Q" * 58,  # bad checksum
        "age-secret-key-pq-1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
        "Age-Secret-Key-1QQQQQQ",  # mixed case
        "AGE-SECRET-KEY-1ÉÉÉÉÉÉÉÉ",  # non-ASCII
    ],
)
def test_malformed_identity_strings_are_key_format_errors(key: str) -> None:
    with pytest.raises(KeyFormatError):
        crypto.age.decrypt(io.BytesIO(party("pq").encrypt(b"x")), io.BytesIO(), [key])
    with pytest.raises(KeyFormatError):
        crypto.age.recipient_of(key)


def test_identity_passed_as_a_recipient_is_refused() -> None:
    with pytest.raises(KeyFormatError):
        crypto.age.encrypt(io.BytesIO(b"x"), io.BytesIO(), [party("pq").identity])


def test_recipient_truncated_to_a_wrong_length_is_refused() -> None:
    from crypto.age import bech32

    short = bech32.encode("age1pq", bytes(1000))
    with pytest.raises(KeyFormatError):
        crypto.age.encrypt(io.BytesIO(b"x"), io.BytesIO(), [short])


def test_scrypt_work_factor_without_a_passphrase_is_refused() -> None:
    with pytest.raises(RecipientError):
        crypto.age.encrypt(
            io.BytesIO(b"x"), io.BytesIO(), [party("pq").recipient], scrypt_work_factor=10
        )


@pytest.mark.parametrize("work_factor", [0, -1, 31])
def test_out_of_range_scrypt_work_factor_for_encryption_is_refused(work_factor: int) -> None:
    with pytest.raises(RecipientError):
        crypto.age.encrypt(
            io.BytesIO(b"x"), io.BytesIO(), passphrase="p", scrypt_work_factor=work_factor
        )
