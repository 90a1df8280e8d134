"""Building inclusion and consistency proofs from stored node hashes (RFC 9162 section 2.1).

A store keeps the hash of every complete subtree, the node (level, index) covering leaves
[index * 2**level, (index + 1) * 2**level). A proof needs O(log n) of them. Building a proof is
two steps, so that a database can fetch every node in one query: a plan names the nodes
(`ProofPlan.node_ids`), then `ProofPlan.build` combines them. A proof hash that covers an
incomplete subtree at the right edge of the tree is hashed from the complete subtrees that
make it up, exactly as RFC 9162 splits a tree at the largest power of two below its size.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crypto.merkle.rfc6962 import EMPTY_ROOT, hash_children


@dataclass(frozen=True, slots=True)
class NodeID:
    """A complete subtree: `level` 0 is a leaf; it covers 2**level leaves from index * 2**level."""

    level: int
    index: int


GetNode = Callable[[int, int], bytes]
"""Returns the stored hash of the complete subtree (level, index); raises if it is not stored."""


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """The nodes a proof is made of: each segment becomes one proof hash.

    A segment lists complete subtrees left to right; its hash is theirs folded from the right,
    which is the root of the range they cover together.
    """

    segments: tuple[tuple[NodeID, ...], ...]

    def node_ids(self) -> list[NodeID]:
        """Return every node the proof reads, each once."""
        return [node for segment in self.segments for node in segment]

    def build(self, get_node: GetNode) -> list[bytes]:
        """Return the proof, reading each node of the plan once through `get_node`."""
        return [_fold(segment, get_node) for segment in self.segments]


def inclusion_plan(*, index: int, tree_size: int) -> ProofPlan:
    """Plan the inclusion proof of leaf `index` in the tree of `tree_size`.

    Raises ValueError unless 0 <= index < tree_size.
    """
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of size {tree_size}")
    return ProofPlan(tuple(_path(0, index, tree_size)))


def consistency_plan(*, size1: int, size2: int) -> ProofPlan:
    """Plan the consistency proof from the tree of `size1` to the tree of `size2`.

    Equal sizes need no hashes. Raises ValueError unless 0 < size1 <= size2: no proof from the
    empty tree exists, because the verifier rejects one as meaningless.
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof exists from tree size {size1} to {size2}")
    if size1 == size2:
        return ProofPlan(())
    # RFC 9162 section 2.1.4.1, unrolled: the proof is the largest complete subtree that ends at
    # size1, then its inclusion path in the tree of size2. The subtree is left out when it is the
    # whole tree of size1, because the verifier already holds that root.
    level = _trailing_zeros(size1)
    index = (size1 - 1) >> level
    seed = [] if index == 0 else [(NodeID(level, index),)]
    return ProofPlan(tuple(seed + _path(level, index, size2)))


def root_plan(*, tree_size: int) -> ProofPlan:
    """Plan the root of the tree of `tree_size` > 0 as a single segment.

    Raises ValueError if tree_size <= 0; the empty root is EMPTY_ROOT.
    """
    if tree_size <= 0:
        raise ValueError(f"tree size {tree_size} has no stored nodes")
    return ProofPlan((cover(0, tree_size),))


def inclusion_proof(*, index: int, tree_size: int, get_node: GetNode) -> list[bytes]:
    """Return the inclusion proof of leaf `index` in the tree of `tree_size`; see inclusion_plan."""
    return inclusion_plan(index=index, tree_size=tree_size).build(get_node)


def consistency_proof(*, size1: int, size2: int, get_node: GetNode) -> list[bytes]:
    """Return the consistency proof from `size1` to `size2`; see consistency_plan."""
    return consistency_plan(size1=size1, size2=size2).build(get_node)


def tree_root(*, tree_size: int, get_node: GetNode) -> bytes:
    """Return the root of the tree of `tree_size` >= 0 from its stored nodes."""
    if tree_size == 0:
        return EMPTY_ROOT
    return root_plan(tree_size=tree_size).build(get_node)[0]


def _path(level: int, index: int, tree_size: int) -> list[tuple[NodeID, ...]]:
    """Segments of the siblings of node (level, index) on its way up to the root.

    Below the level where the node's path meets the path of the last leaf, every level has a
    sibling, and only the topmost of them may be incomplete. Above it the path runs along the
    right edge of the tree, where only left siblings exist.
    """
    last = (tree_size - 1) >> level
    inner = (index ^ last).bit_length()
    segments = []
    for i in range(inner):
        size = 1 << (level + i)
        begin = ((index >> i) ^ 1) * size
        segments.append(cover(begin, min(begin + size, tree_size)))
    for i in range(inner, index.bit_length()):
        if (index >> i) & 1:
            segments.append((NodeID(level + i, (index >> i) ^ 1),))
    return segments


def cover(begin: int, end: int) -> tuple[NodeID, ...]:
    """Return the complete subtrees covering leaves [begin, end), largest (leftmost) first.

    The caller guarantees that begin is a multiple of the largest power of two not above
    end - begin, which holds for [0, n) and for every range the RFC's recursion produces.
    """
    nodes = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        nodes.append(NodeID(level, begin >> level))
        begin += 1 << level
    return tuple(nodes)


def _fold(segment: Sequence[NodeID], get_node: GetNode) -> bytes:
    last = segment[-1]
    result = get_node(last.level, last.index)
    for node in reversed(segment[:-1]):
        result = hash_children(get_node(node.level, node.index), result)
    return result


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1
