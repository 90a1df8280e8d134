"""Padmé (PURBs paper, section 4) against a naive reference written from its definition."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.padding import padme


def _representable(n: int) -> bool:
    """The paper's definition: n's exponent E = floor(log2 n) leaves floor(log2 E) + 1
    mantissa bits, and every bit below them is zero."""
    if n < 2:
        return True
    exponent = math.floor(math.log2(n))
    if exponent < 1:
        return True
    mantissa_bits = math.floor(math.log2(exponent)) + 1
    return n % (1 << max(exponent - mantissa_bits, 0)) == 0


def _naive_padme(length: int) -> int:
    n = length
    while not _representable(n):
        n += 1
    return n


def test_matches_the_naive_reference_up_to_8_kib() -> None:
    assert [padme(n) for n in range(8193)] == [_naive_padme(n) for n in range(8193)]


@given(st.integers(min_value=8192, max_value=2**20))
def test_matches_the_naive_reference_on_larger_lengths(length: int) -> None:
    assert padme(length) == _naive_padme(length)


@pytest.mark.parametrize(
    ("length", "padded"),
    [(0, 0), (1, 1), (2, 2), (9, 10), (129, 144), (1000, 1024), (1025, 1088), (10**6, 1015808)],
)
def test_known_values(length: int, padded: int) -> None:
    assert padme(length) == padded


@given(st.integers(min_value=0, max_value=2**64))
def test_padded_is_a_bucket_at_least_the_length_within_12_percent(length: int) -> None:
    padded = padme(length)
    assert length <= padded <= length * 1.12 + 1
    assert padme(padded) == padded  # a bucket pads to itself


@given(st.integers(min_value=0, max_value=2**48), st.integers(min_value=0, max_value=2**20))
def test_monotonic(length: int, more: int) -> None:
    assert padme(length) <= padme(length + more)


def test_the_worst_overhead_is_below_12_percent() -> None:
    assert max((padme(n) - n) / n for n in range(1, 1 << 16)) < 0.12


def test_negative_length_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        padme(-1)
