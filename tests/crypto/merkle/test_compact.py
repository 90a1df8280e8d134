"""The compact range and the proof builder's contracts: what an append stores, how a log
resumes, and which requests are refused."""

import pytest

from crypto.merkle.compact import CompactRange, NodeHash
from crypto.merkle.memory import MemoryTree
from crypto.merkle.proof import NodeID, consistency_plan, inclusion_plan, root_plan, tree_root
from crypto.merkle.rfc6962 import EMPTY_ROOT, hash_children, hash_leaf

LEAVES = [hash_leaf(bytes([i])) for i in range(64)]


def test_append_reports_every_complete_subtree_it_creates() -> None:
    compact = CompactRange()
    stored: dict[tuple[int, int], bytes] = {}
    for leaf in LEAVES[:7]:
        stored |= {(n.level, n.index): n.hash for n in compact.append(leaf)}
    # The seventh leaf (index 6) completes nothing above itself; the eighth completes three.
    assert compact.append(LEAVES[7]) == [
        NodeHash(0, 7, LEAVES[7]),
        NodeHash(1, 3, hash_children(LEAVES[6], LEAVES[7])),
        NodeHash(2, 1, hash_children(stored[1, 2], hash_children(LEAVES[6], LEAVES[7]))),
        NodeHash(3, 0, MemoryTree(LEAVES[:8]).root()),
    ]


def test_extend_matches_append_and_a_resumed_range() -> None:
    tree = MemoryTree(LEAVES)
    for size in range(len(LEAVES) + 1):
        fast = CompactRange()
        fast.extend(LEAVES[:size])
        resumed = CompactRange.load(tree_size=size, get_node=tree.get_node)
        assert fast.tree_size == resumed.tree_size == size
        assert fast.root() == resumed.root() == tree.root(size)
        # A resumed range goes on appending where the log left off.
        if size < len(LEAVES):
            resumed.append(LEAVES[size])
            assert resumed.root() == tree.root(size + 1)


def test_edge_names_the_nodes_a_log_resumes_from() -> None:
    assert CompactRange.edge(0) == []
    assert CompactRange.edge(13) == [NodeID(3, 0), NodeID(2, 2), NodeID(0, 12)]


def test_empty_tree() -> None:
    assert CompactRange().root() == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT
    assert tree_root(tree_size=0, get_node=MemoryTree().get_node) == EMPTY_ROOT


@pytest.mark.parametrize("leaf", [b"", b"\x00" * 31, b"\x00" * 33], ids=len)
def test_append_refuses_a_leaf_that_is_not_a_hash(leaf: bytes) -> None:
    with pytest.raises(ValueError, match="leaf hash"):
        CompactRange().append(leaf)


@pytest.mark.parametrize(
    ("index", "tree_size"), [(0, 0), (5, 5), (-1, 5)], ids=["empty-tree", "past-end", "negative"]
)
def test_inclusion_plan_refuses_impossible_proofs(index: int, tree_size: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        inclusion_plan(index=index, tree_size=tree_size)


@pytest.mark.parametrize(
    ("size1", "size2"), [(0, 5), (6, 5), (-1, 5)], ids=["from-empty", "rollback", "negative"]
)
def test_consistency_plan_refuses_impossible_proofs(size1: int, size2: int) -> None:
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_plan(size1=size1, size2=size2)


def test_root_plan_refuses_the_empty_tree() -> None:
    with pytest.raises(ValueError, match="no stored nodes"):
        root_plan(tree_size=0)


def test_memory_tree_refuses_sizes_it_has_not_reached() -> None:
    tree = MemoryTree(LEAVES[:5])
    with pytest.raises(ValueError, match="outside"):
        tree.root(6)
    with pytest.raises(KeyError):
        tree.get_node(3, 0)


def test_plan_reads_nodes_once_in_one_batch() -> None:
    # A database fetches plan.node_ids() in one query and builds from that mapping.
    tree = MemoryTree(LEAVES[:45])
    plan = inclusion_plan(index=9, tree_size=45)
    fetched = {(n.level, n.index): tree.get_node(n.level, n.index) for n in plan.node_ids()}
    assert plan.build(lambda level, index: fetched[level, index]) == tree.inclusion_proof(
        index=9, tree_size=45
    )
