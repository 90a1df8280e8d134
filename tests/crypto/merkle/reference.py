"""A naive RFC 6962 implementation, written as plainly as section 2.1 reads, to check the fast one.

MTH, PATH and PROOF/SUBPROOF are transcribed from RFC 6962 sections 2.1, 2.1.1 and 2.1.2, with
D[lo:hi] passed as the bounds lo, hi into one list of leaf inputs. The one addition is a memo
on MTH, so that every proof of every tree up to 512 leaves stays cheap to cross-check; it
does not change what is computed.
"""

from collections.abc import Sequence
from hashlib import sha256


def largest_power_of_two_below(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class NaiveTree:
    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.d = list(leaves)
        self._mth: dict[tuple[int, int], bytes] = {}

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        if (lo, hi) not in self._mth:
            self._mth[lo, hi] = self._compute_mth(lo, hi)
        return self._mth[lo, hi]

    def _compute_mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return sha256(b"").digest()
        if n == 1:
            return sha256(b"\x00" + self.d[lo]).digest()
        k = largest_power_of_two_below(n)
        return sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi)).digest()

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi]): the audit path of leaf lo + m."""
        n = hi - lo
        if n == 1:
            return []
        k = largest_power_of_two_below(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[0:n]): the consistency proof from the first m leaves."""
        return self.subproof(m, 0, n, True)

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        """SUBPROOF(m, D[lo:hi], b)."""
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]
