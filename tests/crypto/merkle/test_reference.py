"""The fast tree code against the naive reference, for every tree size up to 512 and beyond."""

import random

import pytest

from crypto.merkle import verify_consistency, verify_inclusion
from crypto.merkle.compact import CompactRange
from crypto.merkle.memory import MemoryTree
from crypto.merkle.proof import consistency_plan, inclusion_plan
from crypto.merkle.rfc6962 import hash_leaf
from tests.crypto.merkle.reference import NaiveTree

MAX_SIZE = 512
EXHAUSTIVE_SIZE = 256
"""Up to this size every index and every pair of sizes is checked; above it a sample is."""
LEAVES = [i.to_bytes(4, "big") * (i % 3) for i in range(MAX_SIZE)]
NAIVE = NaiveTree(LEAVES)
TREE = MemoryTree(hash_leaf(leaf) for leaf in LEAVES)


def test_roots_of_every_size() -> None:
    compact = CompactRange()
    for size in range(MAX_SIZE + 1):
        want = NAIVE.mth(0, size)
        assert compact.root() == want
        assert TREE.root(size) == want
        assert CompactRange.load(tree_size=size, get_node=TREE.get_node).root() == want
        if size < MAX_SIZE:
            compact.append(hash_leaf(LEAVES[size]))


def _sample(size: int) -> list[int]:
    """Every value in [0, size) for small sizes; else the edges, the split points and a few more."""
    if size <= EXHAUSTIVE_SIZE:
        return list(range(size))
    rng = random.Random(size)
    k = 1 << ((size - 1).bit_length() - 1)
    picks = {0, 1, k - 1, k, size - 2, size - 1, *rng.sample(range(size), 10)}
    return sorted(i for i in picks if 0 <= i < size)


@pytest.mark.parametrize("block", range(8))
def test_inclusion_matches_reference(block: int) -> None:
    # Eight blocks of sizes so that parallel runs share the work.
    for size in range(1 + block, MAX_SIZE + 1, 8):
        root = NAIVE.mth(0, size)
        for index in _sample(size):
            proof = TREE.inclusion_proof(index=index, tree_size=size)
            assert proof == NAIVE.path(index, 0, size)
            verify_inclusion(
                leaf_hash=TREE.get_node(0, index),
                index=index,
                tree_size=size,
                proof=proof,
                root=root,
            )


@pytest.mark.parametrize("block", range(8))
def test_consistency_matches_reference(block: int) -> None:
    for size2 in range(1 + block, MAX_SIZE + 1, 8):
        root2 = NAIVE.mth(0, size2)
        for size1 in (i + 1 for i in _sample(size2)):
            proof = TREE.consistency_proof(size1=size1, size2=size2)
            assert proof == NAIVE.proof(size1, size2)
            verify_consistency(
                size1=size1, size2=size2, proof=proof, root1=NAIVE.mth(0, size1), root2=root2
            )


@pytest.mark.parametrize("seed", range(4))
def test_random_larger_trees(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.randrange(MAX_SIZE, 20_000)
    leaves = [rng.randbytes(rng.randrange(0, 40)) for _ in range(size)]
    naive, tree = NaiveTree(leaves), MemoryTree(hash_leaf(leaf) for leaf in leaves)
    assert tree.root() == naive.mth(0, size)
    for _ in range(50):
        index = rng.randrange(size)
        proof = tree.inclusion_proof(index=index)
        assert proof == naive.path(index, 0, size)
        verify_inclusion(
            leaf_hash=hash_leaf(leaves[index]),
            index=index,
            tree_size=size,
            proof=proof,
            root=naive.mth(0, size),
        )
        size1 = rng.randrange(1, size + 1)
        proof = tree.consistency_proof(size1=size1)
        assert proof == naive.proof(size1, size)
        verify_consistency(
            size1=size1, size2=size, proof=proof, root1=naive.mth(0, size1), root2=tree.root()
        )


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 100, 1023, 1024, 1025, 10**6 + 17])
def test_plans_read_only_logarithmic_nodes(size: int) -> None:
    # The database log serves a proof with one read per planned node: O(log n), each read once.
    bound = 2 * size.bit_length()
    for index in {0, size // 2, size - 1}:
        ids = inclusion_plan(index=index, tree_size=size).node_ids()
        assert len(ids) <= bound
        assert len(set(ids)) == len(ids)
        ids = consistency_plan(size1=index + 1, size2=size).node_ids()
        assert len(ids) <= bound
        assert len(set(ids)) == len(ids)
