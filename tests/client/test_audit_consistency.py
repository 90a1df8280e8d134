"""The consistency check of `tvault audit verify` against the checkpoint kept earlier:
each way a log-key holder can rewrite history is named (client.auditing)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from client.auditing import Verification, _consistency
from client.logserver import LogServer
from crypto.checkpoint import Checkpoint
from crypto.merkle.memory import MemoryTree
from crypto.merkle.rfc6962 import hash_leaf

ORIGIN = "testimony-vault/consistency00000"
HONEST = MemoryTree(hash_leaf(b"%d" % n) for n in range(30))
# The same log with entry 5 rewritten, rebuilt and re-signed by the key holder.
REWRITTEN = MemoryTree(hash_leaf(b"rewritten" if n == 5 else b"%d" % n) for n in range(30))


class Proofs:
    """Serves consistency proofs from `tree`, as the server would from its nodes."""

    def __init__(self, tree: MemoryTree) -> None:
        self.tree = tree

    def consistency(self, *, size1: int, size2: int) -> list[bytes]:
        return self.tree.consistency_proof(size1=size1, size2=size2)


def _head(tree: MemoryTree, size: int, origin: str = ORIGIN) -> Checkpoint:
    return Checkpoint(origin, size, tree.root(size))


def _check(kept: Checkpoint, served: Checkpoint, tree: MemoryTree) -> Verification:
    result = Verification(server="https://vault.example", org="ORG")
    _consistency(result, cast(LogServer, cast(Any, Proofs(tree))), kept, served)
    return result


@pytest.mark.parametrize(
    ("kept", "served", "tree", "found"),
    [
        (_head(HONEST, 20), _head(HONEST, 12), HONEST, "ROLLBACK: the log now has 12 entries"),
        (_head(HONEST, 20), _head(REWRITTEN, 20), REWRITTEN, "FORK: the log signed two"),
        (_head(HONEST, 20), _head(REWRITTEN, 30), REWRITTEN, "FORK: the log of 30 entries"),
        (_head(HONEST, 20, "testimony-vault/other0000000000"), _head(HONEST, 30), HONEST,
         "of another log"),
    ],
    ids=["rolled-back", "forked-same-size", "rewritten-then-grown", "log-key-changed"],
)  # fmt: skip
def test_each_rewrite_by_the_key_holder_is_named(
    kept: Checkpoint, served: Checkpoint, tree: MemoryTree, found: str
) -> None:
    (check,) = _check(kept, served, tree).checks
    assert not check.ok
    assert found in check.detail


@pytest.mark.parametrize("size", [20, 21, 30])
def test_an_honest_log_that_grew_or_stayed_passes(size: int) -> None:
    (check,) = _check(_head(HONEST, 20), _head(HONEST, size), HONEST).checks
    assert check.ok
