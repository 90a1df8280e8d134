"""Replaying a log's entries against its signed checkpoints: the auditor's core check.

Pure: bytes and keys in, the verified checkpoint out or `ProofError` with what was found.
It lives in `crypto` so that the server's tests and the auditor's client
(`tvault audit verify`) share one implementation: `client` may not import `vault`.

What replaying can and cannot tell (DESIGN.md section 2): anyone holding the log's key
and a signed checkpoint detects an entry edited, deleted, reordered or inserted among the
entries it covers, but not which one. An auditor who also kept an earlier checkpoint
learns whether the change lies before it (history rewritten) or after, and detects a
rollback or a rewrite re-signed with the log key, which a brand-new auditor cannot.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from crypto.checkpoint import Checkpoint, open_checkpoint
from crypto.errors import ProofError
from crypto.merkle.compact import CompactRange
from crypto.merkle.rfc6962 import hash_leaf
from crypto.note import Verifier


def verify_log(
    entries: Iterable[bytes],
    checkpoint: bytes,
    *,
    origin: str,
    log: Verifier,
    previous: Checkpoint | None = None,
) -> Checkpoint:
    """Check that `entries` are exactly the log that the signed `checkpoint` commits to.

    `entries` are the log's entries from index 0, as served; exactly the checkpoint's
    tree size of them must be given. `previous` is a checkpoint of the same log that the
    caller verified earlier and kept. Returns the verified checkpoint, to keep for next
    time. Raises `ProofError` saying what was found: a bad signature, a rollback, history
    before `previous` rewritten, entries missing or added, or a changed entry.
    """
    current, _ = open_checkpoint(checkpoint, origin=origin, log=log)
    if previous is not None:
        if previous.origin != origin:
            raise ProofError("the kept checkpoint is of another log")
        if current.tree_size < previous.tree_size:
            raise ProofError(
                f"the log was rolled back: the checkpoint covers {current.tree_size} entries, "
                f"fewer than the {previous.tree_size} of the checkpoint kept earlier"
            )
        if current.tree_size == previous.tree_size and current.root_hash != previous.root_hash:
            raise ProofError(
                f"the log forked: two checkpoints of size {current.tree_size} have different roots"
            )
    leaves = (hash_leaf(entry) for entry in entries)
    compact = CompactRange()
    if previous is not None and previous.tree_size < current.tree_size:
        compact.extend(islice(leaves, previous.tree_size))
        if compact.tree_size == previous.tree_size and compact.root() != previous.root_hash:
            raise ProofError(
                f"history was rewritten: the first {previous.tree_size} entries no longer "
                "match the checkpoint kept earlier"
            )
    compact.extend(islice(leaves, current.tree_size - compact.tree_size))
    if compact.tree_size < current.tree_size:
        raise ProofError(
            f"entries are missing: the log holds {compact.tree_size}, "
            f"the signed checkpoint covers {current.tree_size}"
        )
    if next(leaves, None) is not None:
        raise ProofError(
            f"more entries than the signed checkpoint covers ({current.tree_size}): "
            "give exactly the entries it covers"
        )
    if compact.root() != current.root_hash:
        raise ProofError(
            f"the entries do not match the signed checkpoint at size {current.tree_size}: "
            "an entry was edited, inserted, deleted or reordered"
        )
    return current
