"""The offline recovery recipient: SLIP-39 shares rebuild exactly its identity."""

from __future__ import annotations

from typing import Literal

import pytest

from client.errors import ClientError
from client.recovery import recover, split
from crypto import age


@pytest.mark.parametrize("kind", ["pq", "x25519"])
def test_any_threshold_of_shares_rebuild_the_identity(kind: Literal["pq", "x25519"]) -> None:
    made = split(kind, threshold=2, shares=3)
    assert len(made.shares) == 3
    for chosen in (made.shares[:2], made.shares[1:], [made.shares[0], made.shares[2]]):
        assert age.recipient_of(recover(kind, chosen)) == made.recipient


def test_fewer_shares_than_the_threshold_rebuild_nothing() -> None:
    made = split("x25519", threshold=3, shares=5)
    with pytest.raises(ClientError, match="do not combine"):
        recover("x25519", made.shares[:2])


@pytest.mark.parametrize(("threshold", "shares"), [(1, 3), (4, 3), (2, 17)])
def test_impossible_counts_are_refused(threshold: int, shares: int) -> None:
    with pytest.raises(ClientError):
        split("pq", threshold=threshold, shares=shares)
