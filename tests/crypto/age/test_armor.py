"""Armor beyond the CCTV vectors: large files, where the fast path over full lines runs."""

from __future__ import annotations

import pytest

from crypto.age.armor import MAX_WHITESPACE
from crypto.errors import ArmorError, PayloadError
from tests.crypto.age.support import CHUNK, party

DATA = bytes(range(256)) * (3 * CHUNK // 256)
FIRST_BODY_LINE = len(b"-----BEGIN AGE ENCRYPTED FILE-----\n")


def _middle_line(armored: bytes) -> int:
    """The offset of a body line in the middle of ``armored``."""
    lines = (len(armored) - FIRST_BODY_LINE) // 65
    return FIRST_BODY_LINE + lines // 2 * 65


@pytest.fixture(scope="module")
def armored() -> bytes:
    return party("x25519").encrypt(DATA, armor=True)


def test_large_armor_with_crlf_line_endings_opens(armored: bytes) -> None:
    assert party("x25519").decrypt(armored.replace(b"\n", b"\r\n")) == DATA


@pytest.mark.parametrize("junk", [b"!", b"=", b"-", b" ", b"\xff"])
def test_bad_character_deep_inside_a_large_armor_is_an_armor_failure(
    armored: bytes, junk: bytes
) -> None:
    position = _middle_line(armored) + 7
    forged = armored[:position] + junk + armored[position + 1 :]
    with pytest.raises(ArmorError):
        party("x25519").decrypt(forged)


def test_a_line_removed_from_the_middle_is_a_payload_failure(armored: bytes) -> None:
    position = _middle_line(armored)
    with pytest.raises(PayloadError):
        party("x25519").decrypt(armored[:position] + armored[position + 65 :])


@pytest.mark.parametrize(("amount", "accepted"), [(MAX_WHITESPACE - 2, True), (2000, False)])
def test_leading_whitespace_is_bounded(armored: bytes, amount: int, accepted: bool) -> None:
    padded = b" " * amount + b"\n" + armored
    if accepted:
        assert party("x25519").decrypt(padded) == DATA
    else:
        with pytest.raises(ArmorError):
            party("x25519").decrypt(padded)


@pytest.mark.parametrize("amount", [10, 2000])
def test_trailing_whitespace_is_bounded(armored: bytes, amount: int) -> None:
    padded = armored + b"\n" * amount
    if amount < MAX_WHITESPACE:
        assert party("x25519").decrypt(padded) == DATA
    else:
        with pytest.raises(ArmorError):
            party("x25519").decrypt(padded)
