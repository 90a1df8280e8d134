"""A naive RFC 6962 implementation, written as plainly as section 2.1 reads, to check the fast one.

MTH, PATH and PROOF/SUBPROOF are transcribed from RFC 6962 sections 2.1, 2.1.1 and 2.1.2. Only
the memo on MTH is an addition, so that every proof of a tree of 512 leaves stays cheap; it
keys on the leaves themselves and does not change what is computed.
"""

from functools import lru_cache
from hashlib import sha256


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@lru_cache(maxsize=1 << 20)
def mth(d: tuple[bytes, ...]) -> bytes:
    """MTH(D[n]) over leaf inputs d."""
    n = len(d)
    if n == 0:
        return sha256(b"").digest()
    if n == 1:
        return sha256(b"\x00" + d[0]).digest()
    k = _k(n)
    return sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: tuple[bytes, ...]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf m."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def proof(m: int, d: tuple[bytes, ...]) -> list[bytes]:
    """PROOF(m, D[n]): the consistency proof from the first m leaves."""
    return subproof(m, d, True)


def subproof(m: int, d: tuple[bytes, ...], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]
