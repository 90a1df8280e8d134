"""A compact range [0, size): the incremental root of an append-only tree.

It holds only the roots of the complete subtrees along the right edge of the tree, one per set
bit of the size, so appending costs O(1) amortized hashes and the root O(log n). Each append
reports the complete subtrees it creates, which is what a log must store to serve proofs later
(see crypto.merkle.proof).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from crypto.merkle.proof import GetNode, NodeID, cover
from crypto.merkle.rfc6962 import EMPTY_ROOT, HASH_SIZE, hash_children


@dataclass(frozen=True, slots=True)
class NodeHash:
    """The hash of the complete subtree (level, index)."""

    level: int
    index: int
    hash: bytes


class CompactRange:
    """The right edge of a tree of `tree_size` leaves. Not safe for concurrent use."""

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        # Roots of the complete subtrees on the right edge, largest (leftmost) first.
        self._hashes: list[bytes] = []

    @staticmethod
    def edge(tree_size: int) -> list[NodeID]:
        """Return the complete subtrees that make up the tree of `tree_size`, largest first."""
        return list(cover(0, tree_size))

    @classmethod
    def load(cls, *, tree_size: int, get_node: GetNode) -> "CompactRange":
        """Resume a tree of `tree_size` from its stored nodes (those named by `edge`)."""
        if tree_size < 0:
            raise ValueError(f"tree size {tree_size} is negative")
        compact = cls()
        compact._hashes = [get_node(n.level, n.index) for n in cls.edge(tree_size)]
        compact._size = tree_size
        return compact

    @property
    def tree_size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> list[NodeHash]:
        """Append a leaf; return the complete subtrees it creates, the leaf itself first.

        Raises ValueError if leaf_hash is not HASH_SIZE bytes.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf_hash)} bytes, want {HASH_SIZE}")
        index, level, node = self._size, 0, leaf_hash
        created = [NodeHash(0, index, node)]
        # A right child completes its parent: merge with the left sibling on the edge.
        while index & 1:
            node = hash_children(self._hashes.pop(), node)
            index >>= 1
            level += 1
            created.append(NodeHash(level, index, node))
        self._hashes.append(node)
        self._size += 1
        return created

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaves without reporting the nodes: the fast path for replaying a log.

        The caller guarantees every leaf hash is HASH_SIZE bytes (hash_leaf output is).
        """
        hashes, size = self._hashes, self._size
        for leaf_hash in leaf_hashes:
            node, index = leaf_hash, size
            while index & 1:
                node = hash_children(hashes.pop(), node)
                index >>= 1
            hashes.append(node)
            size += 1
        self._size = size

    def root(self) -> bytes:
        """Return the root of the tree (RFC 9162 section 2.1.1); EMPTY_ROOT when empty."""
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for node in reversed(self._hashes[:-1]):
            root = hash_children(node, root)
        return root
