"""C2SP tlog-checkpoints: build, sign, open strictly; forged and malformed checkpoints fail."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.checkpoint import (
    Checkpoint,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from crypto.errors import CryptoError, ProofError
from crypto.merkle.rfc6962 import EMPTY_ROOT, MAX_TREE_SIZE, hash_leaf
from crypto.note import Signer, add_signatures, open_note, sign_note

ORIGIN = "vault.example/log"
LOG = Signer.generate(ORIGIN)
WITNESS = Signer.generate("witness.example/w1")
ROOT = hash_leaf(b"root")
ROOT_B64 = base64.b64encode(ROOT).decode()
GOOD = Checkpoint(ORIGIN, 20852163, ROOT)


def _open(message: bytes) -> Checkpoint:
    return open_checkpoint(message, origin=ORIGIN, log=LOG.verifier)[0]


def test_text_layout() -> None:
    assert GOOD.text() == f"{ORIGIN}\n20852163\n{ROOT_B64}\n"
    assert Checkpoint(ORIGIN, 0, EMPTY_ROOT, ("ext a", "b")).text().endswith("\next a\nb\n")


def test_sign_and_open() -> None:
    assert _open(sign_checkpoint(GOOD, LOG)) == GOOD


def test_witness_cosignature_is_carried_and_checked() -> None:
    signed = sign_checkpoint(GOOD, LOG)
    cosigned = add_signatures(open_note(signed, [LOG.verifier]), [WITNESS])
    checkpoint, note = open_checkpoint(
        cosigned, origin=ORIGIN, log=LOG.verifier, witnesses=[WITNESS.verifier]
    )
    assert checkpoint == GOOD
    assert {s.name for s in note.signatures} == {ORIGIN, "witness.example/w1"}
    # Without the witness's key its cosignature is carried, not trusted.
    assert [
        s.name for s in open_checkpoint(cosigned, origin=ORIGIN, log=LOG.verifier)[1].unverified
    ] == ["witness.example/w1"]


def _text(origin: str = ORIGIN, size: str = "5", root: str = ROOT_B64, *ext: str) -> str:
    return "".join(line + "\n" for line in (origin, size, root, *ext))


MALFORMED = {
    "leading-zero-size": _text(size="05"),
    "negative-size": _text(size="-5"),
    "plus-size": _text(size="+5"),
    "hex-size": _text(size="0x5"),
    "spaced-size": _text(size=" 5"),
    "non-ascii-digit-size": _text(size="\u0665"),
    "size-over-uint64": _text(size=str(MAX_TREE_SIZE + 1)),
    "empty-size": _text(size=""),
    "short-root": _text(root=base64.b64encode(ROOT[:31]).decode()),
    "long-root": _text(root=base64.b64encode(ROOT + b"\x00").decode()),
    "unpadded-root": _text(root=ROOT_B64.rstrip("=")),
    "urlsafe-root": _text(root=base64.urlsafe_b64encode(b"\xfb" * 32).decode()),
    "empty-origin": _text(origin=""),
    "empty-extension-line": _text(ORIGIN, "5", ROOT_B64, "ext", ""),
    "missing-root": f"{ORIGIN}\n5\n",
    "no-final-newline": _text()[:-1],
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_checkpoint_text(text: str) -> None:
    with pytest.raises(ProofError):
        parse_checkpoint(text)


def test_largest_tree_size() -> None:
    assert parse_checkpoint(_text(size=str(MAX_TREE_SIZE))).tree_size == MAX_TREE_SIZE
    assert parse_checkpoint(_text(size="0")).tree_size == 0


@pytest.mark.parametrize(
    "fields",
    [
        ("", 1, ROOT, ()),
        (ORIGIN, -1, ROOT, ()),
        (ORIGIN, MAX_TREE_SIZE + 1, ROOT, ()),
        (ORIGIN, 1, ROOT[:31], ()),
        (ORIGIN, 1, ROOT, ("",)),
        (f"{ORIGIN}\n", 1, ROOT, ()),
        (ORIGIN, 1, ROOT, ("a\nb",)),
    ],
    ids=[
        "empty-origin",
        "negative",
        "over-uint64",
        "short-root",
        "empty-ext",
        "nl-origin",
        "nl-ext",
    ],
)
def test_invalid_checkpoint_cannot_be_built(
    fields: tuple[str, int, bytes, tuple[str, ...]],
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message says which field
        Checkpoint(*fields)


FORGED = {
    "signed-by-witness-only": sign_note(GOOD.text(), [WITNESS]),
    "other-log-same-key-name": sign_checkpoint(GOOD, Signer.generate(ORIGIN)),
    "other-origin": sign_checkpoint(Checkpoint("other.example/log", 5, ROOT), LOG),
    "rolled-back-size": sign_checkpoint(GOOD, LOG).replace(b"20852163", b"20852162"),
    "swapped-root": sign_checkpoint(GOOD, LOG).replace(
        ROOT_B64.encode(), base64.b64encode(EMPTY_ROOT)
    ),
    "malformed-but-signed": sign_note(_text(size="05"), [LOG]),
}


@pytest.mark.parametrize("message", FORGED.values(), ids=FORGED.keys())
def test_forged_checkpoint_is_rejected(message: bytes) -> None:
    with pytest.raises(ProofError):
        _open(message)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_crypto_errors(data: bytes) -> None:
    try:
        _open(data)
    except CryptoError:
        return
    raise AssertionError("arbitrary bytes opened as a checkpoint")


@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_raises_proof_error(text: str) -> None:
    try:
        checkpoint = parse_checkpoint(text)
    except ProofError:
        return
    assert checkpoint.text() == text


LINE = st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1)


@given(
    origin=LINE,
    tree_size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(LINE, max_size=3).map(tuple),
)
def test_round_trip(origin: str, tree_size: int, root: bytes, extensions: tuple[str, ...]) -> None:
    checkpoint = Checkpoint(origin, tree_size, root, extensions)
    assert parse_checkpoint(checkpoint.text()) == checkpoint
    signed = sign_checkpoint(checkpoint, LOG)
    assert open_checkpoint(signed, origin=origin, log=LOG.verifier)[0] == checkpoint
