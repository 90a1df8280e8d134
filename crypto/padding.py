"""Padmé padding, from "Reducing Metadata Leakage from Encrypted Files and Communication
with PURBs" (Nikitin et al., PoPETs 2019, section 4).

A padded length is a floating-point number whose mantissa has only as many bits as the
exponent needs: a length L with exponent E = floor(log2 L) keeps floor(log2 E) + 1 bits,
and the bits below them are rounded up to zero. So the padded length reveals O(log log L)
bits about L, and the overhead stays below 12 % (the worst case is 129 -> 144).
"""

from __future__ import annotations


def padme(length: int) -> int:
    """Return the Padmé padded length of `length` bytes: the smallest bucket >= `length`.

    Lengths 0 and 1 are their own buckets (the paper's E is undefined there). Raises
    ValueError for a negative length.
    """
    if length < 0:
        raise ValueError("a length cannot be negative")
    if length < 2:
        return length
    exponent = length.bit_length() - 1  # E = floor(log2 L)
    mantissa_bits = exponent.bit_length()  # S = floor(log2 E) + 1 (1 when E = 1)
    mask = (1 << (exponent - mantissa_bits)) - 1
    return (length + mask) & ~mask
