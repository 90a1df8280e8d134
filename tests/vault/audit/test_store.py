"""The stored tree: appends build the tree MemoryTree builds, proofs verify, and the log
commits or rolls back with the transaction it is appended in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from crypto.merkle import verify_consistency, verify_inclusion
from crypto.merkle.rfc6962 import EMPTY_ROOT, hash_leaf
from tests.vault.audit.support import fetch, memory_tree, published
from vault.audit import (
    LogIntegrityError,
    append,
    append_many,
    consistency_proof,
    decode_event,
    encode_event,
    entries,
    inclusion_proof,
    root,
    store,
    tree_size,
)
from vault.db import session_scope
from vault.errors import Invalid, NotFound, VaultError
from vault.models import metadata

SIZE = 37  # not a power of two, so proofs cross incomplete subtrees at the right edge
NODES = metadata.tables["log_node"]
ENTRIES = metadata.tables["log_entry"]


def _node_count(size: int) -> int:
    # Every complete subtree of a tree of `size`: size leaves, then each merge.
    return 2 * size - size.bit_count()


@pytest.fixture
def filled(engine: Engine) -> Engine:
    """A log of SIZE entries, appended one by one, then in batches, as workers would."""
    with session_scope(engine) as session:
        assert [append(session, published(n)) for n in range(5)] == list(range(5))
    for start in range(5, SIZE, 8):
        with session_scope(engine) as session:
            batch = [published(n) for n in range(start, min(start + 8, SIZE))]
            assert append_many(session, batch) == range(start, start + len(batch))
    return engine


def test_an_empty_log_has_the_empty_root(engine: Engine) -> None:
    with session_scope(engine, readonly=True) as session:
        assert tree_size(session) == 0
        assert root(session, 0) == EMPTY_ROOT
        assert entries(session, start=0, end=10) == []
    with session_scope(engine) as session:
        assert append_many(session, []) == range(0)


def test_appends_build_the_tree_a_memory_tree_builds(filled: Engine) -> None:
    stored, tree = memory_tree(filled)
    assert [decode_event(entry) for entry in stored] == [published(n) for n in range(SIZE)]
    with session_scope(filled, readonly=True) as session:
        for size in range(SIZE + 1):
            assert root(session, size) == tree.root(size)
        for size in (1, 2, 8, 9, 31, 32, SIZE):
            for index in range(size):
                proof = inclusion_proof(session, index=index, tree_size=size)
                assert proof == tree.inclusion_proof(index=index, tree_size=size)
                verify_inclusion(
                    leaf_hash=hash_leaf(stored[index]),
                    index=index,
                    tree_size=size,
                    proof=proof,
                    root=tree.root(size),
                )
            for size1 in range(1, size + 1):
                proof = consistency_proof(session, size1=size1, size2=size)
                assert proof == tree.consistency_proof(size1=size1, size2=size)
                verify_consistency(
                    size1=size1,
                    size2=size,
                    proof=proof,
                    root1=tree.root(size1),
                    root2=tree.root(size),
                )


def test_every_stored_node_and_leaf_hash_is_the_reference_one(filled: Engine) -> None:
    stored, tree = memory_tree(filled)
    with session_scope(filled, readonly=True) as session:
        nodes = session.execute(sa.select(NODES)).all()
        leaves = session.execute(sa.select(ENTRIES.c.leaf_index, ENTRIES.c.leaf_hash)).all()
    assert len(nodes) == _node_count(SIZE)
    for level, index, hash_ in nodes:
        assert tree.get_node(level, index) == hash_
    assert dict(leaves) == {i: hash_leaf(entry) for i, entry in enumerate(stored)}


def test_a_rolled_back_transaction_leaves_no_entry(filled: Engine) -> None:
    def append_then_fail() -> None:
        with session_scope(filled) as session:
            append(session, fetch())
            append_many(session, [published(1000), published(1001)])
            raise RuntimeError("the event's own change failed")

    with pytest.raises(RuntimeError, match="own change failed"):
        append_then_fail()
    with session_scope(filled, readonly=True) as session:
        assert tree_size(session) == SIZE
        count = session.execute(sa.select(sa.func.count()).select_from(NODES)).scalar_one()
    assert count == _node_count(SIZE)
    # The next append takes the index the rolled-back one had.
    with session_scope(filled) as session:
        assert append(session, fetch()) == SIZE


def test_entries_returns_a_range_in_order(filled: Engine) -> None:
    stored, _ = memory_tree(filled)
    with session_scope(filled, readonly=True) as session:
        assert entries(session, start=3, end=9) == stored[3:9]
        assert entries(session, start=30, end=100) == stored[30:]
        with pytest.raises(Invalid):
            entries(session, start=5, end=4)


OUT_OF_RANGE: dict[str, tuple[Callable[[Session], object], type[VaultError]]] = {
    "index-at-size": (lambda s: inclusion_proof(s, index=SIZE, tree_size=SIZE), Invalid),
    "negative-index": (lambda s: inclusion_proof(s, index=-1, tree_size=SIZE), Invalid),
    "size-beyond-log": (lambda s: inclusion_proof(s, index=0, tree_size=SIZE + 1), NotFound),
    "consistency-from-empty": (lambda s: consistency_proof(s, size1=0, size2=SIZE), Invalid),
    "consistency-shrinks": (lambda s: consistency_proof(s, size1=5, size2=4), Invalid),
    "consistency-beyond-log": (
        lambda s: consistency_proof(s, size1=5, size2=SIZE + 1),
        NotFound,
    ),
    "root-beyond-log": (lambda s: root(s, SIZE + 1), NotFound),
    "negative-root": (lambda s: root(s, -1), Invalid),
}


@pytest.mark.parametrize("case", OUT_OF_RANGE)
def test_out_of_range_requests_are_refused(filled: Engine, case: str) -> None:
    call, error = OUT_OF_RANGE[case]
    with session_scope(filled, readonly=True) as session, pytest.raises(error):
        call(session)


def test_a_missing_node_is_reported_not_papered_over(filled: Engine) -> None:
    with session_scope(filled) as session:
        session.execute(sa.delete(NODES).where(NODES.c.level == 5))
    with session_scope(filled, readonly=True) as session, pytest.raises(LogIntegrityError):
        root(session, SIZE)
    with pytest.raises(LogIntegrityError), session_scope(filled) as session:
        append(session, fetch())


# (size before, entries appended): empty and power-of-two starts, batches that complete
# subtrees and batches that leave the right edge ragged.
APPENDS = [(0, 1), (0, 8), (1, 1), (3, 1), (3, 6), (4, 4), (7, 9), (8, 1), (37, 8), (63, 2)]


@pytest.mark.parametrize(("before", "count"), APPENDS)
def test_append_and_prove_builds_the_stored_proofs_without_another_read(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, before: int, count: int
) -> None:
    if before:
        with session_scope(engine) as session:
            append_many(session, [published(n) for n in range(before)])
    reads = _count_node_reads(monkeypatch)
    events = [published(n) for n in range(before, before + count)]
    with session_scope(engine) as session:
        encoded = [(encode_event(event), event) for event in events]
        indices, root_hash, proofs = store.append_and_prove(session, encoded)
    assert len(reads) == 1  # the old right edge; every proof node was already at hand
    monkeypatch.undo()
    stored, tree = memory_tree(engine)
    size = before + count
    assert indices == range(before, size)
    assert root_hash == tree.root(size)
    with session_scope(engine, readonly=True) as session:
        assert proofs == [inclusion_proof(session, index=i, tree_size=size) for i in indices]
    for index, proof in zip(indices, proofs, strict=True):
        verify_inclusion(
            leaf_hash=hash_leaf(stored[index]),
            index=index,
            tree_size=size,
            proof=proof,
            root=root_hash,
        )


def test_append_and_prove_reads_a_node_it_does_not_hold(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were the append ever to lack a node a proof needs, it is read, not guessed.
    with session_scope(engine) as session:
        append_many(session, [published(n) for n in range(37)])
    real_append = store._append

    def forgetful(*args: Any) -> Any:
        indices, root_hash, known = real_append(*args)
        return indices, root_hash, {key: known[key] for key in list(known)[1:]}

    monkeypatch.setattr(store, "_append", forgetful)
    reads = _count_node_reads(monkeypatch)
    event = fetch()
    with session_scope(engine) as session:
        _, _, proofs = store.append_and_prove(session, [(encode_event(event), event)])
    assert reads == [3, 1]  # the old edge (32 + 4 + 1 leaves), then the forgotten node
    with session_scope(engine, readonly=True) as session:
        assert proofs == [inclusion_proof(session, index=37, tree_size=38)]
    with pytest.raises(ValueError, match="at least one"), session_scope(engine) as session:
        store.append_and_prove(session, [])


def _count_node_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many nodes each read of stored nodes asks for, from now on."""
    reads: list[int] = []
    real_nodes = store._nodes

    def counted(direct: Any, ids: Any) -> Any:
        reads.append(len(ids))
        return real_nodes(direct, ids)

    monkeypatch.setattr(store, "_nodes", counted)
    return reads
