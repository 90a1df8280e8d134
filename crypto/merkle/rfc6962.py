"""The RFC 6962 hasher (RFC 9162 section 2.1.1): SHA-256 with domain-separated leaves and nodes.

A leaf hash can never be confused with an interior node hash because the two are prefixed
with different bytes; this is what stops an attacker from presenting an interior node as a
leaf (a second-preimage attack on the tree).
"""

from hashlib import sha256
from typing import Final

HASH_SIZE: Final = 32
"""Size in bytes of every hash in the tree."""

LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"

MAX_TREE_SIZE: Final = (1 << 64) - 1
"""Tree sizes are uint64 on the wire (RFC 6962 section 3.5); larger ones are refused."""

EMPTY_ROOT: Final = sha256(b"").digest()
"""The root of the tree of size 0: SHA-256 of the empty string (RFC 9162 section 2.1.1)."""


def hash_leaf(data: bytes) -> bytes:
    """Return the leaf hash of an entry: SHA-256(0x00 || data)."""
    return sha256(LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Return the hash of an interior node: SHA-256(0x01 || left || right)."""
    return sha256(NODE_PREFIX + left + right).digest()
