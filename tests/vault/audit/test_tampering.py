"""Tampering with the tables directly, without the log key, is caught by replaying the
entries against a signed checkpoint, and what was found is said. A rewrite or rollback
re-signed with the log key is caught by an auditor who kept an earlier checkpoint."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crypto.checkpoint import Checkpoint, open_checkpoint
from crypto.errors import ProofError
from crypto.note import Signer
from tests.vault.audit.support import DAY, published
from vault.audit import (
    append_many,
    decode_event,
    entries,
    latest_checkpoint,
    sign_checkpoint,
    verify_log,
)
from vault.db import session_scope
from vault.models import metadata

ORIGIN = "testimony-vault/0123456789abcdef"
SIZE = 20
ENTRIES = metadata.tables["log_entry"]
CHECKPOINTS = metadata.tables["checkpoint"]


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture
def signed(engine: Engine, signer: Signer) -> Checkpoint:
    """A log of SIZE entries and its signed checkpoint, as an auditor kept it."""
    with session_scope(engine) as session:
        append_many(session, [published(n) for n in range(SIZE)])
        note = sign_checkpoint(session, signer)
    checkpoint, _ = open_checkpoint(note, origin=ORIGIN, log=signer.verifier)
    return checkpoint


def _audit(engine: Engine, signer: Signer, previous: Checkpoint | None = None) -> Checkpoint:
    """What an auditor does: fetch the latest checkpoint and the entries, and replay them."""
    with session_scope(engine, readonly=True) as session:
        latest = latest_checkpoint(session)
        assert latest is not None
        stored = entries(session, start=0, end=latest.tree_size)
    return verify_log(stored, latest.note, origin=ORIGIN, log=signer.verifier, previous=previous)


def _entry(connection: Connection, index: int) -> bytes:
    query = sa.select(ENTRIES.c.entry).where(ENTRIES.c.leaf_index == index)
    return bytes(connection.execute(query).scalar_one())


def _set_entry(connection: Connection, index: int, entry: bytes) -> None:
    where = ENTRIES.c.leaf_index == index
    connection.execute(sa.update(ENTRIES).where(where).values(entry=entry))


def edit(connection: Connection) -> None:
    _set_entry(connection, 7, _entry(connection, 7).replace(b'"version":7', b'"version":8'))


def delete(connection: Connection) -> None:
    connection.execute(sa.delete(ENTRIES).where(ENTRIES.c.leaf_index == 7))


def reorder(connection: Connection) -> None:
    seventh, eighth = _entry(connection, 7), _entry(connection, 8)
    _set_entry(connection, 7, eighth)
    _set_entry(connection, 8, seventh)


def insert(connection: Connection) -> None:
    # Make room at index 7 from the top down, so the primary key never collides.
    for index in range(SIZE - 1, 6, -1):
        where = ENTRIES.c.leaf_index == index
        connection.execute(sa.update(ENTRIES).where(where).values(leaf_index=index + 1))
    row = {"leaf_index": 7, "entry": b"{}", "leaf_hash": b"\0" * 32, "day": DAY}
    connection.execute(sa.insert(ENTRIES), [row])


TAMPERING: dict[str, tuple[Callable[[Connection], None], str]] = {
    "entry-edited": (edit, "an entry was edited, inserted, deleted or reordered"),
    "entry-deleted": (delete, "entries are missing: the log holds 19"),
    "entries-reordered": (reorder, "an entry was edited, inserted, deleted or reordered"),
    "entry-inserted": (insert, "an entry was edited, inserted, deleted or reordered"),
}


@pytest.mark.parametrize("case", TAMPERING)
@pytest.mark.parametrize("auditor", ["brand-new", "returning"])
def test_tampering_without_the_key_is_detected(
    engine: Engine, signer: Signer, signed: Checkpoint, case: str, auditor: str
) -> None:
    assert _audit(engine, signer) == signed
    tamper, found = TAMPERING[case]
    with engine.begin() as connection:
        tamper(connection)
    previous = signed if auditor == "returning" else None
    with pytest.raises(ProofError, match=found):
        _audit(engine, signer, previous)


def test_a_forged_checkpoint_without_the_key_is_refused(
    engine: Engine, signer: Signer, signed: Checkpoint
) -> None:
    with engine.begin() as connection:
        edit(connection)
        # Re-signing with any other key does not help: the auditor trusts only the log's.
        forged = Signer.generate(ORIGIN)
        connection.execute(sa.delete(CHECKPOINTS))
    with session_scope(engine) as session:
        sign_checkpoint(session, forged)
    with pytest.raises(ProofError, match="no known key signed the note"):
        _audit(engine, signer)


def test_a_rewrite_resigned_with_the_log_key_is_caught_by_a_kept_checkpoint(
    engine: Engine, signer: Signer, signed: Checkpoint
) -> None:
    with engine.begin() as connection:
        edit(connection)
        connection.execute(sa.delete(CHECKPOINTS))
        connection.execute(sa.delete(metadata.tables["log_node"]))
    _rebuild_nodes_and_resign(engine, signer)
    # A brand-new auditor has nothing to compare with (DESIGN.md section 2).
    assert _audit(engine, signer).tree_size == SIZE
    with pytest.raises(ProofError, match="the log forked: two checkpoints of size 20"):
        _audit(engine, signer, previous=signed)
    # The log grows on, as if nothing happened; the kept checkpoint still catches it.
    with session_scope(engine) as session:
        append_many(session, [published(n) for n in range(SIZE, SIZE + 3)])
        sign_checkpoint(session, signer)
    assert _audit(engine, signer).tree_size == SIZE + 3
    with pytest.raises(ProofError, match="history was rewritten: the first 20 entries"):
        _audit(engine, signer, previous=signed)


def test_a_rollback_resigned_with_the_log_key_is_caught_by_a_kept_checkpoint(
    engine: Engine, signer: Signer, signed: Checkpoint
) -> None:
    with engine.begin() as connection:
        connection.execute(sa.delete(ENTRIES).where(ENTRIES.c.leaf_index >= 15))
        connection.execute(sa.delete(CHECKPOINTS))
        connection.execute(sa.delete(metadata.tables["log_node"]))
    _rebuild_nodes_and_resign(engine, signer)
    assert _audit(engine, signer).tree_size == 15
    with pytest.raises(ProofError, match="rolled back: the checkpoint covers 15 entries"):
        _audit(engine, signer, previous=signed)


def _rebuild_nodes_and_resign(engine: Engine, signer: Signer) -> None:
    """What a log-key holder would do to hide a rewrite: rebuild the tree and sign it."""
    with session_scope(engine) as session:
        stored = entries(session, start=0, end=SIZE)
        session.execute(sa.delete(ENTRIES))
        append_many(session, [decode_event(entry) for entry in stored])
        sign_checkpoint(session, signer)
