"""The check word of a codename: one symbol of a Reed-Solomon-like code over GF(2^11).

Field elements are 11-bit words, multiplied as polynomials modulo the primitive polynomial
x^11 + x^2 + 1. Word ``j`` (0-based) of a codename is weighted by x^(j+1) and the check
word by x^0 = 1; a codename is valid when the weighted sum is zero. Every weight is a
distinct non-zero element (x has order 2047 and codenames are far shorter), so changing
any one word, or swapping any two different words, always changes the sum: every single
substitution and every transposition is caught, not just most of them as an 11-bit hash
would catch them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

_FIELD_BITS: Final = 11
_POLYNOMIAL: Final = 0x805  # x^11 + x^2 + 1


def times_x(element: int) -> int:
    """The product of ``element`` and x in GF(2^11)."""
    element <<= 1
    return element ^ _POLYNOMIAL if element >> _FIELD_BITS else element


def check_word(indices: Sequence[int]) -> int:
    """The check word for these entropy word indices: sum of x^(j+1)·w_j (Horner's rule)."""
    total = 0
    for index in reversed(indices):
        total = times_x(total ^ index)
    return total


def is_valid(indices: Sequence[int]) -> bool:
    """Whether the last index is the check word of the others."""
    return check_word(indices[:-1]) == indices[-1]
