"""Where served entries depart from the signed tree, for `tvault audit verify` to say.

Replaying the entries (`crypto.auditlog.verify_log`) tells that they differ from what the
log signed, not where. Since the server's stored tree nodes are what it signed, proofs
from it locate the first entry that differs, and whether it was edited, deleted,
inserted or moved. A server that lies in these proofs can only blur the diagnosis: the
refusal itself rests on the replay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from client.errors import ClientError
from crypto.checkpoint import Checkpoint
from crypto.errors import ProofError
from crypto.merkle import verify_consistency, verify_inclusion
from crypto.merkle.compact import CompactRange

#: How many entries after the first that differs are tried as its moved original.
MOVE_WINDOW: Final = 10_000


def _prefix_root(leaves: Sequence[bytes], size: int) -> bytes:
    compact = CompactRange()
    compact.extend(leaves[:size])
    return compact.root()


def _proves(leaf: bytes, index: int, checkpoint: Checkpoint, proof: list[bytes]) -> bool:
    try:
        verify_inclusion(
            leaf_hash=leaf,
            index=index,
            tree_size=checkpoint.tree_size,
            proof=proof,
            root=checkpoint.root_hash,
        )
    except ProofError:
        return False
    return True


def locate(
    leaves: Sequence[bytes],
    checkpoint: Checkpoint,
    *,
    consistency: Callable[[int], list[bytes]],
    inclusion: Callable[[int], list[bytes]],
) -> str:
    """Say where and how the served entries (as `leaves`, their RFC 6962 leaf hashes)
    depart from the signed `checkpoint`, using proofs from the server.

    `consistency(k)` gives the proof from size k to the checkpoint's size, `inclusion(i)`
    the inclusion proof of index i in it. A server that lies in them can only blur this
    diagnosis: the refusal itself rests on the replay, not on these proofs.
    """
    size = checkpoint.tree_size
    usable = min(len(leaves), size)

    def matches(k: int) -> bool:
        root = _prefix_root(leaves, k)
        if k == size:
            return root == checkpoint.root_hash
        try:
            verify_consistency(
                size1=k, size2=size, proof=consistency(k), root1=root, root2=checkpoint.root_hash
            )
        except (ProofError, ClientError):
            return False
        return True

    # The largest prefix that is still the signed one: the first differing entry follows.
    low, high = 0, usable
    if matches(high):
        low = high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if matches(middle) else (low, middle)
    first = low
    if first >= len(leaves):
        return f"entries from index {first} on are missing (deleted)"
    if first >= size:
        return f"entries beyond index {size - 1} were added"
    here = inclusion(first)
    moved = next(
        (
            j
            for j in range(first + 1, min(len(leaves), first + MOVE_WINDOW))
            if _proves(leaves[j], first, checkpoint, here)
        ),
        None,
    )
    after = inclusion(first + 1) if first + 1 < size else None
    if (
        moved == first + 1
        and after is not None
        and _proves(leaves[first], first + 1, checkpoint, after)
    ):
        return f"entries {first} and {first + 1} were swapped (reordered)"
    if moved == first + 1:
        return (
            f"an entry was inserted at index {first} (the signed entry {first} now comes after it)"
        )
    if moved is not None:
        return f"entries were reordered: the entry signed at index {first} is now at index {moved}"
    if after is not None and _proves(leaves[first], first + 1, checkpoint, after):
        return f"the entry at index {first} was deleted (the entries after it moved up)"
    return f"the entry at index {first} was edited: it is not the entry the log signed there"
