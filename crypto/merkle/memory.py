"""A whole tree held in memory: every complete-subtree hash, appended through a CompactRange.

It is the pure in-memory counterpart of a log's node table, for tests, tools and small logs.
"""

from collections.abc import Iterable

from crypto.merkle.compact import CompactRange
from crypto.merkle.proof import consistency_proof, inclusion_proof, tree_root


class MemoryTree:
    """An append-only tree over leaf hashes. Not safe for concurrent use."""

    __slots__ = ("_compact", "_levels")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._compact = CompactRange()
        self._levels: list[list[bytes]] = []
        for leaf_hash in leaf_hashes:
            self.append(leaf_hash)

    @property
    def tree_size(self) -> int:
        return self._compact.tree_size

    def append(self, leaf_hash: bytes) -> None:
        """Append a leaf hash; raises ValueError unless it is HASH_SIZE bytes."""
        for node in self._compact.append(leaf_hash):
            if node.level == len(self._levels):
                self._levels.append([])
            # Nodes of one level complete left to right, so each lands at its own index.
            self._levels[node.level].append(node.hash)

    def get_node(self, level: int, index: int) -> bytes:
        """Return the hash of the complete subtree (level, index); raises KeyError if absent."""
        if 0 <= level < len(self._levels) and 0 <= index < len(self._levels[level]):
            return self._levels[level][index]
        raise KeyError((level, index))

    def root(self, tree_size: int | None = None) -> bytes:
        """Return the root at `tree_size` (default: the current size)."""
        size = self.tree_size if tree_size is None else self._check_size(tree_size)
        return tree_root(tree_size=size, get_node=self.get_node)

    def inclusion_proof(self, *, index: int, tree_size: int | None = None) -> list[bytes]:
        """Return the inclusion proof of leaf `index` at `tree_size` (default: current size)."""
        size = self.tree_size if tree_size is None else self._check_size(tree_size)
        return inclusion_proof(index=index, tree_size=size, get_node=self.get_node)

    def consistency_proof(self, *, size1: int, size2: int | None = None) -> list[bytes]:
        """Return the consistency proof from `size1` to `size2` (default: current size)."""
        size = self.tree_size if size2 is None else self._check_size(size2)
        return consistency_proof(size1=size1, size2=size, get_node=self.get_node)

    def _check_size(self, tree_size: int) -> int:
        if not 0 <= tree_size <= self.tree_size:
            raise ValueError(f"tree size {tree_size} is outside 0..{self.tree_size}")
        return tree_size
