"""The audit log's tree in the database: appends, roots and proofs from stored node hashes.

Tables (vault.models): `log_entry` holds each entry and its leaf hash; `log_node` holds the
hash of every complete subtree, written once when the append that completes it runs, never
changed after. So the tree of any size up to the current one, and any proof in it, is a
fold of O(log n) stored hashes (crypto.merkle.proof), fetched in one query.

Appends are serialized by `vault.db.lock_log`: on PostgreSQL an advisory lock held to the
end of the transaction, on SQLite the write lock every write transaction takes. The next
index is read under that lock, so however many workers append, the entries are numbered
0, 1, 2, ... without a gap or a duplicate, and the tree is one tree.

Functions that read take any session, read-only included; they see one consistent tree
because stored nodes never change and a size is only read, never assumed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import Session

from crypto.merkle.compact import CompactRange
from crypto.merkle.proof import (
    GetNode,
    NodeID,
    ProofPlan,
    consistency_plan,
    inclusion_plan,
    root_plan,
)
from crypto.merkle.rfc6962 import EMPTY_ROOT, hash_leaf
from vault.audit.events import Event, encode_event
from vault.db import Direct, lock_log
from vault.errors import Invalid, NotFound, VaultError
from vault.models import LogEntry, LogNode, metadata

_ENTRY: Final = metadata.tables[LogEntry.__tablename__]
_NODE: Final = metadata.tables[LogNode.__tablename__]
_LAST_INDEX: Final = sa.select(sa.func.max(_ENTRY.c.leaf_index))
#: Most nodes read by one query (`_nodes_query`): well within SQLite's expression depth.
_MAX_NODES_PER_QUERY: Final = 128


class LogIntegrityError(VaultError):
    """The stored log contradicts itself: a node hash it needs is missing. Someone or
    something changed the tables outside this module; the log must be checked, not used."""

    summary = "the stored audit log is damaged"


def tree_size(session: Session) -> int:
    """Return the number of entries in the log (the index of the next one)."""
    with Direct(session) as direct:
        return _tree_size(direct)


def _tree_size(direct: Direct) -> int:
    last = direct.scalar(_LAST_INDEX)
    return 0 if last is None else int(last) + 1


def append(session: Session, event: Event) -> int:
    """Append `event` to the log in the caller's transaction; return its leaf index.

    Run it in the same transaction as the change the event records, so that both commit or
    neither does. It takes the log lock first (`vault.db.lock_log`), which it holds until
    that transaction ends: keep the transaction short. Precondition: a write session.
    Raises `LogIntegrityError` if the stored right edge of the tree is damaged.
    """
    (index,) = append_many(session, [event])
    return index


def append_many(session: Session, events: Iterable[Event]) -> range:
    """Append `events` in order, in the caller's transaction; return their leaf indices.

    As `append`, with one lock, one read of the tree's edge and two inserts for the batch.
    """
    return append_many_rooted(session, events)[0]


def append_many_rooted(session: Session, events: Iterable[Event]) -> tuple[range, bytes]:
    """As `append_many`, and also return the root hash of the log it leaves, computed from
    the tree's right edge without another query."""
    # Encoded before the lock is taken, so the lock is held only for the database work.
    return append_encoded(session, [(encode_event(event), event) for event in events])


def append_encoded(session: Session, entries: Sequence[tuple[bytes, Event]]) -> tuple[range, bytes]:
    """As `append_many_rooted`, for events the caller has encoded (`encode_event`) and
    keeps: each pair is an event and its encoding, which is what is stored and hashed."""
    if not entries:
        return range(0), root(session, tree_size(session))
    indices, root_hash, _ = _append(session, entries)
    return indices, root_hash


def append_and_prove(
    session: Session, entries: Sequence[tuple[bytes, Event]]
) -> tuple[range, bytes, list[list[bytes]]]:
    """As `append_encoded` for at least one entry, and also return the inclusion proof of
    each new entry in the tree it leaves.

    The proofs are built from the nodes the append already holds: the old tree's right
    edge, read under the log lock, and the complete subtrees it just wrote. A proof of a
    new entry needs no other node (a left sibling that holds no new entry is a node of the
    old edge); should one ever be missing, it is read, so the proofs are those
    `inclusion_proofs` would build from the stored nodes.
    """
    if not entries:
        raise ValueError("append_and_prove needs at least one entry")
    indices, root_hash, known = _append(session, entries)
    return indices, root_hash, _proofs(session, indices, indices.stop, known)


def _append(
    session: Session, entries: Sequence[tuple[bytes, Event]]
) -> tuple[range, bytes, dict[tuple[int, int], bytes]]:
    """Append `entries` (at least one) under the log lock; their indices, the new root,
    and every node hash read or written on the way: the old right edge and the new nodes."""
    lock_log(session)
    with Direct(session) as direct:
        size = _tree_size(direct)
        # The right edge: one stored node per set bit of the size.
        known = _nodes(direct, CompactRange.edge(size))
        compact = CompactRange.load(tree_size=size, get_node=_lookup(known))
        entry_rows, node_rows = _rows(compact, size, entries)
        direct.insert(_ENTRY, entry_rows)
        direct.insert(_NODE, node_rows)
    known.update(((row["level"], row["node_index"]), row["hash"]) for row in node_rows)
    return range(size, size + len(entries)), compact.root(), known


def _rows(
    compact: CompactRange, size: int, entries: Sequence[tuple[bytes, Event]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The `log_entry` and `log_node` rows that append `entries` to the tree of `size`
    whose right edge `compact` holds (which they extend)."""
    entry_rows: list[dict[str, Any]] = []
    node_rows: list[dict[str, Any]] = []
    for offset, (entry, event) in enumerate(entries):
        leaf_hash = hash_leaf(entry)
        entry_rows.append(
            {"leaf_index": size + offset, "entry": entry, "leaf_hash": leaf_hash, "day": event.day}
        )
        node_rows.extend(
            {"level": node.level, "node_index": node.index, "hash": node.hash}
            for node in compact.append(leaf_hash)
        )
    return entry_rows, node_rows


def root(session: Session, tree_size: int) -> bytes:
    """Return the root hash of the log's first `tree_size` entries (one query).

    Raises `NotFound` if the log is smaller, `Invalid` if `tree_size` is negative.
    """
    _check_size(session, tree_size)
    if tree_size == 0:
        return EMPTY_ROOT
    return _build(session, root_plan(tree_size=tree_size))[0]


def inclusion_proof(session: Session, *, index: int, tree_size: int) -> list[bytes]:
    """Return the inclusion proof of entry `index` in the tree of `tree_size` (one query).

    Raises `Invalid` unless 0 <= index < tree_size, `NotFound` if the log is smaller than
    `tree_size`, `LogIntegrityError` if a node it needs is missing.
    """
    if not 0 <= index < tree_size:
        raise Invalid(f"index {index} is not below tree_size {tree_size}")
    _check_size(session, tree_size)
    return _build(session, inclusion_plan(index=index, tree_size=tree_size))


def inclusion_proofs(
    session: Session, *, indices: Sequence[int], tree_size: int
) -> list[list[bytes]]:
    """Return the inclusion proof of each entry of `indices` in the tree of `tree_size`.

    As `inclusion_proof`, but the nodes all the proofs need are read together (`_proofs`).
    """
    if bad := [index for index in indices if not 0 <= index < tree_size]:
        raise Invalid(f"index {bad[0]} is not below tree_size {tree_size}")
    _check_size(session, tree_size)
    return _proofs(session, indices, tree_size, {})


def _proofs(
    session: Session, indices: Sequence[int], tree_size: int, known: dict[tuple[int, int], bytes]
) -> list[list[bytes]]:
    """The inclusion proofs of `indices` in the tree of `tree_size`, built from the node
    hashes `known` and those it lacks, read together (a few queries however many proofs:
    the proofs of neighbouring entries share most nodes)."""
    plans = [inclusion_plan(index=index, tree_size=tree_size) for index in indices]
    needed = dict.fromkeys(node for plan in plans for node in plan.node_ids())
    if missing := [node for node in needed if (node.level, node.index) not in known]:
        with Direct(session) as direct:
            known = {**known, **_nodes(direct, missing)}
    get_node = _lookup(known)
    return [plan.build(get_node) for plan in plans]


def consistency_proof(session: Session, *, size1: int, size2: int) -> list[bytes]:
    """Return the proof that the tree of `size2` extends the tree of `size1` (one query).

    Raises `Invalid` unless 0 < size1 <= size2 (no proof from the empty tree exists),
    `NotFound` if the log is smaller than `size2`, `LogIntegrityError` as above.
    """
    if not 0 < size1 <= size2:
        raise Invalid(f"no consistency proof exists from size1 {size1} to size2 {size2}")
    _check_size(session, size2)
    return _build(session, consistency_plan(size1=size1, size2=size2))


def entries(session: Session, *, start: int, end: int) -> list[bytes]:
    """Return the stored entries with index in [start, end), in index order.

    Rows are returned as stored: if rows were deleted behind the log's back the list is
    shorter, which `crypto.auditlog.verify_log` reports. Raises `Invalid` if the range
    is negative or reversed.
    """
    if not 0 <= start <= end:
        raise Invalid(f"no entries from {start} to {end}")
    query = (
        sa.select(_ENTRY.c.entry)
        .where(_ENTRY.c.leaf_index >= start, _ENTRY.c.leaf_index < end)
        .order_by(_ENTRY.c.leaf_index)
    )
    return [bytes(entry) for entry in session.execute(query).scalars()]


def _check_size(session: Session, size: int) -> None:
    if size < 0:
        raise Invalid(f"tree_size {size} is negative")
    current = tree_size(session)
    if size > current:
        raise NotFound(f"the log has {current} entries, so it has no tree of size {size} yet")


def _build(session: Session, plan: ProofPlan) -> list[bytes]:
    return plan.build(_node_getter(session, plan.node_ids()))


@functools.lru_cache(maxsize=256)
def _nodes_query(count: int) -> sa.TextClause:
    """The query for `count` nodes by key, made once per count (proofs need at most ~128).

    An OR of exact keys, not a row-value IN: SQLite answers the OR with one primary key
    search per node, but scans the whole table for ``(level, node_index) IN (...)``. Text,
    because building the expression anew for each proof cost more than running it.
    """
    keys = " OR ".join(f"(level = :l{n} AND node_index = :i{n})" for n in range(count))
    return sa.text(f"SELECT level, node_index, hash FROM {_NODE.name} WHERE {keys}")  # noqa: S608


def _nodes(direct: Direct, ids: Sequence[NodeID]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of the nodes `ids`, in one query per `_MAX_NODES_PER_QUERY`."""
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(ids), _MAX_NODES_PER_QUERY):
        part = ids[start : start + _MAX_NODES_PER_QUERY]
        params = {}
        for n, node in enumerate(part):
            params[f"l{n}"], params[f"i{n}"] = node.level, node.index
        rows = direct.rows(_nodes_query(len(part)), params)
        found.update(((level, index), bytes(hash_)) for level, index, hash_ in rows)
    return found


def _lookup(found: dict[tuple[int, int], bytes]) -> GetNode:
    """A lookup in `found` that raises `LogIntegrityError` for a node it lacks."""

    def get_node(level: int, index: int) -> bytes:
        try:
            return found[level, index]
        except KeyError:
            raise LogIntegrityError(f"the hash of subtree ({level}, {index}) is missing") from None

    return get_node


def _node_getter(session: Session, ids: Sequence[NodeID]) -> GetNode:
    """Fetch the nodes `ids` in one query; return a lookup that raises if one is missing."""
    with Direct(session) as direct:
        return _lookup(_nodes(direct, ids))
