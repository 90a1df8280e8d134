"""Checkpoints: signed once per size, opened with the log key, and the proof that comes
with a fetch verifies against the checkpoint that comes with it."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from crypto.checkpoint import open_checkpoint
from crypto.merkle import verify_consistency, verify_inclusion
from crypto.merkle.rfc6962 import EMPTY_ROOT, hash_leaf
from crypto.note import Signer
from tests.vault.audit.support import BOB, RECORD, fetch, memory_tree, published
from vault.audit import (
    Action,
    SignedCheckpoint,
    append_many,
    consistency_proof,
    decode_event,
    inclusion_proof,
    inclusion_proofs,
    latest_checkpoint,
    record_and_prove,
    record_and_prove_many,
    sign_checkpoint,
)
from vault.db import session_scope
from vault.errors import Invalid

ORIGIN = "testimony-vault/00112233aabbccdd"


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


def test_no_checkpoint_before_the_first_is_signed(engine: Engine, signer: Signer) -> None:
    with session_scope(engine, readonly=True) as session:
        assert latest_checkpoint(session) is None
    with session_scope(engine) as session:
        note = sign_checkpoint(session, signer)
    checkpoint, _ = open_checkpoint(note, origin=ORIGIN, log=signer.verifier)
    assert (checkpoint.tree_size, checkpoint.root_hash) == (0, EMPTY_ROOT)


def test_a_checkpoint_is_signed_once_per_size_and_verifies(engine: Engine, signer: Signer) -> None:
    with session_scope(engine) as session:
        append_many(session, [published(n) for n in range(11)])
        first = sign_checkpoint(session, signer)
    with session_scope(engine) as session:
        # Ed25519 is deterministic, so only reuse makes "same bytes" mean "not re-signed":
        # a second key proves it.
        assert sign_checkpoint(session, Signer.generate(ORIGIN)) == first
    _, tree = memory_tree(engine)
    checkpoint, _ = open_checkpoint(first, origin=ORIGIN, log=signer.verifier)
    assert (checkpoint.tree_size, checkpoint.root_hash) == (11, tree.root())

    with session_scope(engine) as session:
        append_many(session, [published(n) for n in range(11, 20)])
        second = sign_checkpoint(session, signer)
    with session_scope(engine, readonly=True) as session:
        latest = latest_checkpoint(session)
        proof = consistency_proof(session, size1=11, size2=20)
    assert latest is not None
    assert (latest.note, latest.tree_size) == (second, 20)
    newer, _ = open_checkpoint(second, origin=ORIGIN, log=signer.verifier)
    verify_consistency(
        size1=11, size2=20, proof=proof, root1=checkpoint.root_hash, root2=newer.root_hash
    )


def test_a_fetch_comes_with_the_proof_of_its_own_entry(engine: Engine, signer: Signer) -> None:
    with session_scope(engine) as session:
        append_many(session, [published(n) for n in range(6)])
    with session_scope(engine) as session:
        logged = record_and_prove(session, fetch(), signer)
    # What the caseworker's client does before opening anything (DESIGN.md section 4).
    checkpoint, _ = open_checkpoint(logged.checkpoint, origin=ORIGIN, log=signer.verifier)
    assert checkpoint.tree_size == logged.tree_size == logged.index + 1 == 7
    event = decode_event(logged.entry)
    assert (event.action, event.actor, event.record) == (Action.RECORD_FETCHED, BOB, RECORD)
    verify_inclusion(
        leaf_hash=hash_leaf(logged.entry),
        index=logged.index,
        tree_size=logged.tree_size,
        proof=logged.proof,
        root=checkpoint.root_hash,
    )
    with session_scope(engine, readonly=True) as session:
        latest = latest_checkpoint(session)
    assert latest is not None
    assert latest.note == logged.checkpoint


def test_a_rolled_back_fetch_leaves_neither_entry_nor_checkpoint(
    engine: Engine, signer: Signer
) -> None:
    def fetch_then_fail() -> None:
        with session_scope(engine) as session:
            record_and_prove(session, fetch(), signer)
            raise RuntimeError("the header could not be read")

    with pytest.raises(RuntimeError, match="could not be read"):
        fetch_then_fail()
    with session_scope(engine, readonly=True) as session:
        assert latest_checkpoint(session) is None
    stored, _ = memory_tree(engine)
    assert stored == []


@pytest.mark.parametrize("before", [0, 5, 8])
def test_a_batch_is_proven_entry_by_entry_under_one_checkpoint(
    engine: Engine, signer: Signer, before: int
) -> None:
    with session_scope(engine) as session:
        append_many(session, [published(n) for n in range(before)])
    events = [fetch(f"record-{n:012d}") for n in range(11)]
    with session_scope(engine) as session:
        logged = record_and_prove_many(session, events, signer)
        assert record_and_prove_many(session, [], signer) == []
    size = before + len(events)
    assert [e.index for e in logged] == list(range(before, size))
    assert {(e.checkpoint, e.tree_size) for e in logged} == {(logged[0].checkpoint, size)}
    checkpoint, _ = open_checkpoint(logged[0].checkpoint, origin=ORIGIN, log=signer.verifier)
    _, tree = memory_tree(engine)
    assert (checkpoint.tree_size, checkpoint.root_hash) == (size, tree.root())
    with session_scope(engine, readonly=True) as session:
        for event, entry in zip(events, logged, strict=True):
            assert decode_event(entry.entry) == event
            verify_inclusion(
                leaf_hash=hash_leaf(entry.entry),
                index=entry.index,
                tree_size=size,
                proof=entry.proof,
                root=checkpoint.root_hash,
            )
            assert entry.proof == inclusion_proof(session, index=entry.index, tree_size=size)
        assert latest_checkpoint(session) == SignedCheckpoint(
            size, checkpoint.root_hash, logged[0].checkpoint
        )


def test_proofs_of_many_entries_match_each_proof_alone(engine: Engine) -> None:
    with session_scope(engine) as session:
        append_many(session, [published(n) for n in range(300)])
    wanted = [0, 1, 7, 128, 255, 256, 299, 299]
    with session_scope(engine, readonly=True) as session:
        proofs = inclusion_proofs(session, indices=wanted, tree_size=300)
        assert proofs == [inclusion_proof(session, index=i, tree_size=300) for i in wanted]
        # So many at once that the nodes take several queries.
        every = inclusion_proofs(session, indices=range(300), tree_size=300)
        assert every[150] == inclusion_proof(session, index=150, tree_size=300)
        with pytest.raises(Invalid):
            inclusion_proofs(session, indices=[300], tree_size=300)
