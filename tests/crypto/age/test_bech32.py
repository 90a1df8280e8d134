"""Bech32 against the BIP 173 test vectors, minus the length limit age drops."""

from __future__ import annotations

import pytest

from crypto.age import bech32
from crypto.errors import KeyFormatError

# BIP 173, "Test vectors": valid Bech32 strings.
VALID = [
    "A12UEL5L",
    "a12uel5l",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11" + "q" * 82 + "c8247j",  # exactly BIP 173's 90-character limit
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
# BIP 173 invalid strings that stay invalid without the 90-character limit.
INVALID = [
    "\x201nwldj5",  # HRP character out of range
    "\x7f1axkwrx",
    "pzry9x0s0muk",  # no separator
    "1pzry9x0s0muk",  # empty HRP
    "x1b4n0q5v",  # invalid data character
    "li1dgmt3",  # too short checksum
    "de1lg7wt\xff",  # invalid character in checksum
    "A1G7SGD8",  # checksum computed with an upper-case HRP
    "10a06t8",  # empty HRP
    "1qzzfhee",  # empty HRP
    "a12UEL5L",  # mixed case
]


@pytest.mark.parametrize("text", VALID)
def test_bip173_valid_strings_decode(text: str) -> None:
    hrp, _ = bech32.decode(text)
    assert hrp == text[: text.rfind("1")]


@pytest.mark.parametrize("text", INVALID)
def test_bip173_invalid_strings_are_refused(text: str) -> None:
    with pytest.raises(KeyFormatError):
        bech32.decode(text)


def test_a_known_age_identity_decodes_to_its_recipient() -> None:
    # From the age README (c2sp.org/age test keys): the CCTV X25519 identity.
    import crypto.age

    identity = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
    assert crypto.age.recipient_of(identity).startswith("age1")
    hrp, key = bech32.decode(identity)
    assert (hrp, len(key)) == ("AGE-SECRET-KEY-", 32)


def test_nonzero_padding_bits_are_refused() -> None:
    # One byte is 8 bits = two 5-bit groups with 2 padding bits; set them.
    canonical = bech32.encode("age", b"\x00")
    words = [0, 1]  # second group has a padding bit set
    tampered = "age1" + "".join(bech32._CHARSET[w] for w in words)
    checksum = bech32._polymod([*bech32._hrp_expand("age"), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    tampered += "".join(bech32._CHARSET[(checksum >> 5 * (5 - i)) & 31] for i in range(6))
    assert tampered != canonical
    with pytest.raises(KeyFormatError):
        bech32.decode(tampered)
