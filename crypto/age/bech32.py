"""Bech32 (BIP 173 checksum, not Bech32m) as age uses it for keys.

Hand-written on purpose: the PyPI ``bech32`` package enforces BIP 173's 90-character
limit, but age's post-quantum keys (``age1pq1…``, 1216 bytes of key) are about 1960
characters long. age drops the length limit and keeps everything else, including the
rule that a string is either all lower case or all upper case.
"""

from __future__ import annotations

from crypto.errors import KeyFormatError

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_VALUES = {c: i for i, c in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHECKSUM_LENGTH = 6


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_GENERATOR):
            if (top >> i) & 1:
                chk ^= generator
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    mask = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & mask)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & mask)
    elif bits >= from_bits or (acc << (to_bits - bits)) & mask:
        # Leftover bits must be fewer than one input group and all zero, or the
        # encoding is not canonical.
        raise KeyFormatError("invalid bech32 padding")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under the human-readable part ``hrp``, in lower case.

    Callers that need upper case (age secret keys) upper-case the result.
    """
    hrp = hrp.lower()
    words = _convert_bits(data, 8, 5, pad=True)
    polymod = _polymod([*_hrp_expand(hrp), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LENGTH)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words + checksum)


def decode(text: str) -> tuple[str, bytes]:
    """Decode a Bech32 string into ``(hrp, data)``.

    The returned ``hrp`` keeps the case of the input, so callers compare it against
    ``"age"`` or ``"AGE-SECRET-KEY-"`` exactly. Raises :class:`KeyFormatError` on mixed
    case, bad characters, a bad checksum or non-canonical padding.
    """
    if text.lower() != text and text.upper() != text:
        raise KeyFormatError("mixed-case bech32 string")
    if not text.isascii():
        raise KeyFormatError("non-ASCII bech32 string")
    pos = text.rfind("1")
    if pos < 1 or pos + 1 + _CHECKSUM_LENGTH > len(text):
        raise KeyFormatError("bech32 separator at an invalid position")
    hrp = text[:pos]
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise KeyFormatError("invalid bech32 human-readable part")
    try:
        words = [_VALUES[c] for c in text[pos + 1 :].lower()]
    except KeyError:
        raise KeyFormatError("invalid bech32 data character") from None
    if _polymod(_hrp_expand(hrp.lower()) + words) != 1:
        raise KeyFormatError("invalid bech32 checksum")
    return hrp, bytes(_convert_bits(words[:-_CHECKSUM_LENGTH], 5, 8, pad=False))


def decode_as(text: str, hrp: str) -> bytes:
    """The data of ``text`` if its human-readable part is exactly ``hrp``; else KeyFormatError."""
    found, data = decode(text)
    if found != hrp:
        raise KeyFormatError("wrong kind of age key")
    return data
