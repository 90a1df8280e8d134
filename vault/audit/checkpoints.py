"""Signed checkpoints of the audit log, and logging an event together with its proof.

A checkpoint is a C2SP tlog-checkpoint signed with the server's log key (vault.logkey),
whose key name is the log's origin. Each size is signed at most once and stored in
`checkpoint`; asking again for an unchanged log returns the stored note. `vault.logkey`
refuses to start with a key other than the one registered, so every stored note was
signed by the current key.

`record_and_prove` is how a record-level event is logged when the caller must hand back
proof of it (DESIGN.md section 4: a caseworker's client opens a record only after
verifying the inclusion proof of the entry for that very fetch). See its docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlmodel import Session

from crypto.checkpoint import Checkpoint
from crypto.checkpoint import sign_checkpoint as sign_checkpoint_note
from crypto.note import Signer
from vault.audit.events import Event, encode_event, utc_today
from vault.audit.store import append_and_prove, root, tree_size
from vault.db import Direct, lock_log
from vault.models import Checkpoint as CheckpointRow
from vault.models import metadata

_CHECKPOINT: Final = metadata.tables[CheckpointRow.__tablename__]


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A stored checkpoint: its size and root, and the signed note exactly as served."""

    tree_size: int
    root_hash: bytes
    note: bytes


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An appended entry with everything a client needs to check that it was logged.

    The client opens `checkpoint` with the log key from the signed roster
    (`crypto.checkpoint.open_checkpoint`), checks that `entry` says what it expects (its
    own fetch of this record, today), then checks
    ``crypto.merkle.verify_inclusion(leaf_hash=hash_leaf(entry), index=index,
    tree_size=tree_size, proof=proof, root=<the checkpoint's root>)``.
    """

    index: int
    entry: bytes
    tree_size: int
    proof: list[bytes]
    checkpoint: bytes


def sign_checkpoint(session: Session, signer: Signer) -> bytes:
    """Return a signed checkpoint of the log as it is now, signing and storing it if new.

    Precondition: a write session; takes the log lock, so the checkpoint is of a size no
    concurrent append can change, and two workers never sign the same size twice.
    """
    lock_log(session)
    return _checkpoint_at(session, signer, tree_size(session))


def latest_checkpoint(session: Session) -> SignedCheckpoint | None:
    """Return the stored checkpoint of the largest size, or None if none was signed yet."""
    row = session.execute(
        sa.select(_CHECKPOINT.c.tree_size, _CHECKPOINT.c.root_hash, _CHECKPOINT.c.signed_note)
        .order_by(_CHECKPOINT.c.tree_size.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    return SignedCheckpoint(int(row[0]), bytes(row[1]), str(row[2]).encode())


def record_and_prove(session: Session, event: Event, signer: Signer) -> LoggedEvent:
    """Append `event` and return it with its inclusion proof in a checkpoint that covers it.

    Call it in the transaction that does what the event records (e.g. the one that reads
    the header a caseworker fetches), and hand the result back with what was fetched.
    Under the log lock it appends the entry, signs and stores a checkpoint at exactly the
    new size, and builds the proof from the nodes this transaction just wrote. So:

    - the checkpoint covers the entry, and no other worker's append can slip in between;
    - all of it commits with the event or not at all: if the transaction rolls back, the
      entry and the checkpoint vanish together, and the caller must not return the
      result (return it only after the commit succeeds);
    - it costs one Ed25519 signature and one stored checkpoint per call, which is why
      events nobody needs a proof of use `append` instead.

    Precondition: a write session. Raises as `append` does.
    """
    (logged,) = record_and_prove_many(session, [event], signer)
    return logged


def record_and_prove_many(
    session: Session, events: Sequence[Event], signer: Signer
) -> list[LoggedEvent]:
    """Append `events` in order and return one `LoggedEvent` for each, all proven in ONE
    checkpoint signed at the new size (the size after the last of them).

    As `record_and_prove`, with the same guarantees, but one signature and one stored
    checkpoint for the whole batch: this is how a group of submissions committed together
    is logged. Returns [] and signs nothing for no events.
    """
    if not events:
        return []
    encoded = [encode_event(event) for event in events]
    indices, root_hash, proofs = append_and_prove(session, list(zip(encoded, events, strict=True)))
    size = indices.stop
    # No checkpoint of this size can exist: its last entries did not until now.
    note = _sign_and_store(session, signer, size, root_hash)
    return [
        LoggedEvent(index=index, entry=entry, tree_size=size, proof=proof, checkpoint=note)
        for index, entry, proof in zip(indices, encoded, proofs, strict=True)
    ]


def _checkpoint_at(session: Session, signer: Signer, size: int) -> bytes:
    """The checkpoint at `size`, signed now if it was not yet. Precondition: log lock held."""
    stored = session.execute(
        sa.select(_CHECKPOINT.c.signed_note).where(_CHECKPOINT.c.tree_size == size)
    ).scalar_one_or_none()
    if stored is not None:
        return str(stored).encode()
    return _sign_and_store(session, signer, size, root(session, size))


def _sign_and_store(session: Session, signer: Signer, size: int, root_hash: bytes) -> bytes:
    """Sign the checkpoint of `size` and store it. Precondition: log lock held, none stored."""
    note = sign_checkpoint_note(Checkpoint(signer.name, size, root_hash), signer)
    row = {"tree_size": size, "root_hash": root_hash, "signed_note": note.decode()}
    with Direct(session) as direct:
        direct.insert(_CHECKPOINT, [{**row, "day": utc_today()}])
    return note
