"""C2SP signed notes: the spec's Ed25519 example, round trips, and malformed or forged notes."""

import base64
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import CryptoError, KeyFormatError, ProofError
from crypto.note import (
    Note,
    Signer,
    add_signatures,
    key_id,
    open_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    valid_name,
)
from tests.vectorload.merkle import signed_note_example

EXAMPLE = signed_note_example()
LOG = Signer.generate("example.com/log")
WITNESS = Signer.generate("witness.example/w1")
TEXT = "example.com/log\n7\nAAAA\n"


def test_example_verifies_with_its_vkey() -> None:
    verifier = parse_verifier_key(EXAMPLE.vkey)
    note = open_note(EXAMPLE.signed_note, [verifier])
    assert note.text == EXAMPLE.note_text
    assert [s.name for s in note.signatures] == [EXAMPLE.key_name]
    assert note.signatures[0].key_id.to_bytes(4, "big") + note.signatures[0].signature == (
        EXAMPLE.signature
    )
    assert note.unverified == ()


def test_example_key_id() -> None:
    verifier = parse_verifier_key(EXAMPLE.vkey)
    assert verifier.public_key == EXAMPLE.public_key
    want = int.from_bytes(EXAMPLE.key_id, "big")
    assert key_id(EXAMPLE.key_name, EXAMPLE.public_key) == verifier.key_id == want
    assert verifier.vkey == EXAMPLE.vkey


def test_sign_and_open() -> None:
    message = sign_note(TEXT, [LOG])
    note = open_note(message, [LOG.verifier])
    assert note.text == TEXT
    assert parse_signer_key(LOG.skey).verifier == LOG.verifier


def test_unknown_signer_is_carried_not_trusted() -> None:
    message = sign_note(TEXT, [LOG, WITNESS])
    note = open_note(message, [LOG.verifier])
    assert [s.name for s in note.signatures] == ["example.com/log"]
    assert [s.name for s in note.unverified] == ["witness.example/w1"]
    # The witness's cosignature survives a re-encoding, and then verifies with its key.
    again = open_note(add_signatures(note, [LOG]), [LOG.verifier, WITNESS.verifier])
    assert {s.name for s in again.signatures} == {"example.com/log", "witness.example/w1"}


def _forge(message: bytes, old: str, new: str) -> bytes:
    return message.decode().replace(old, new, 1).encode()


def _resign_line(message: bytes, signer: Signer, signature: bytes) -> bytes:
    text = message.decode().split("\n\n")[0] + "\n"
    raw = signer.key_id.to_bytes(4, "big") + signature
    return f"{text}\n\u2014 {signer.name} {base64.b64encode(raw).decode()}\n".encode()


def _non_canonical(message: bytes) -> bytes:
    """Set an unused low bit of the last base64 digit: the same bytes, spelled differently."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    assert message.endswith(b"=\n")
    assert not message.endswith(b"==\n")
    last = message[-3]
    spelled = alphabet[alphabet.index(last) ^ 1]
    return message[:-3] + bytes([spelled]) + b"=\n"


SIGNED = sign_note(TEXT, [LOG])

FORGERIES = {
    "modified-text": _forge(SIGNED, "7", "8"),
    "signed-by-unknown-key-only": sign_note(TEXT, [WITNESS]),
    "same-name-other-key": sign_note(TEXT, [Signer.generate("example.com/log")]),
    "bad-signature": _resign_line(SIGNED, LOG, bytes(64)),
    "short-signature": _resign_line(SIGNED, LOG, bytes(63)),
    "duplicated-signature": SIGNED + SIGNED.decode().split("\n\n")[1].encode(),
    "hyphen-instead-of-em-dash": _forge(SIGNED, "\u2014", "-"),
    "en-dash-instead-of-em-dash": _forge(SIGNED, "\u2014", "\u2013"),
    "no-blank-line": _forge(SIGNED, "\n\n", "\n"),
    "no-final-newline": SIGNED[:-1],
    "no-signature": TEXT.encode() + b"\n",
    "crlf-line-endings": SIGNED.replace(b"\n", b"\r\n"),
    "control-character-in-text": _forge(SIGNED, "7", "7\t"),
    "nul-in-text": _forge(SIGNED, "7", "7\x00"),
    "not-utf8": _forge(SIGNED, "7", "7").replace(b"7", b"\xff", 1),
    "two-spaces-after-name": _forge(SIGNED, "log ", "log  "),
    "missing-base64-padding": _forge(SIGNED, "=\n", "\n"),
    "non-canonical-base64": _non_canonical(SIGNED),
    "trailing-blank-line": SIGNED + b"\n",
    "plus-in-key-name": _forge(SIGNED, "\u2014 example.com/log", "\u2014 example.com/l+g"),
    "too-many-signatures": SIGNED
    + b"".join(sign_note(TEXT, [WITNESS]).split(b"\n\n")[1] for _ in range(100)),
}


@pytest.mark.parametrize("message", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_or_malformed_note_is_rejected(message: bytes) -> None:
    with pytest.raises(ProofError):
        open_note(message, [LOG.verifier])


def test_unknown_signatures_do_not_hide_a_bad_known_one() -> None:
    bad = _resign_line(SIGNED, LOG, bytes(64))
    message = bad + sign_note(TEXT, [WITNESS]).split(b"\n\n")[1]
    with pytest.raises(ProofError):
        open_note(message, [LOG.verifier])


def test_text_may_hold_blank_lines() -> None:
    text = "first\n\nsecond\n"
    assert open_note(sign_note(text, [LOG]), [LOG.verifier]).text == text


@pytest.mark.parametrize(
    "text",
    ["no newline", "", "tab\there\n", "cr\r\n", "\ud800\n"],
    ids=["unterminated", "empty", "tab", "cr", "surrogate"],
)
def test_sign_refuses_text_that_would_not_open(text: str) -> None:
    with pytest.raises(ValueError, match="newline"):
        sign_note(text, [LOG])


@pytest.mark.parametrize(
    "name", ["", "a b", "a+b", "a\u00a0b", "a\u2003b", "a\nb", "a\x00b", "a\ud800b"], ids=repr
)
def test_invalid_key_names(name: str) -> None:
    assert not valid_name(name)
    with pytest.raises(KeyFormatError):
        Signer.generate(name)


VKEY = EXAMPLE.vkey
BAD_VKEYS = {
    "wrong-key-id": VKEY.replace("+530d903a+", "+530d903b+"),
    "uppercase-key-id": VKEY.replace("+530d903a+", "+530D903A+"),
    "short-key-id": VKEY.replace("+530d903a+", "+530d903+"),
    "missing-name": VKEY[VKEY.index("+") :],
    "wrong-algorithm": VKEY.replace("+AekyeR", "+AukyeR"),
    "truncated-key": VKEY[:-4],
    "modified-public-key": VKEY[:-1] + "l",
    "signer-key-as-verifier-key": LOG.skey,
    "empty": "",
}


@pytest.mark.parametrize("vkey", BAD_VKEYS.values(), ids=BAD_VKEYS.keys())
def test_malformed_verifier_key(vkey: str) -> None:
    with pytest.raises(KeyFormatError):
        parse_verifier_key(vkey)


def test_malformed_signer_key() -> None:
    with pytest.raises(KeyFormatError):
        parse_signer_key(LOG.verifier.vkey)
    with pytest.raises(KeyFormatError):
        parse_signer_key(LOG.skey.replace(f"+{LOG.key_id:08x}+", "+00000000+"))


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_crypto_errors(data: bytes) -> None:
    try:
        open_note(data, [LOG.verifier])
    except CryptoError:
        return
    raise AssertionError("arbitrary bytes opened as a note")


@given(st.text(max_size=300))
def test_arbitrary_verifier_keys_raise_only_key_format_errors(vkey: str) -> None:
    with contextlib.suppress(KeyFormatError):
        parse_verifier_key(vkey)


@given(
    lines=st.lists(
        st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), max_size=40),
        min_size=1,
        max_size=6,
    ),
    cosign=st.booleans(),
)
def test_round_trip(lines: list[str], cosign: bool) -> None:
    text = "".join(line + "\n" for line in lines)
    signers = [LOG, WITNESS] if cosign else [LOG]
    note = open_note(sign_note(text, signers), [s.verifier for s in signers])
    assert note == Note(text, note.signatures, ())
    assert [s.name for s in note.signatures] == [s.name for s in signers]
