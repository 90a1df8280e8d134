"""Deleting records: on request, by retention, and a disabled account's headers.

DESIGN.md section 5: deletion removes the headers and the payload and leaves a log entry.
It also removes the replies, the follow-ups and the record's places in cases, and forgets
the lookup hash, so a source's codename finds nothing any more. The `record` row stays,
its payload marked gone (`received` = 0), so the log's entries about it keep a referent
and the id is never reused. What survives is said in the docs: backups, and exports.

Retention runs as the server, not as a person: its entries name the actor
`vault.audit.RETENTION`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, Engine
from sqlmodel import Session, col, delete, select

from vault import audit
from vault.audit import Action, Event
from vault.audit.events import utc_today
from vault.db import lock_log, session_scope
from vault.models import CaseRecord, Followup, PayloadChunk, Record, RecordHeader, Reply
from vault.records.access import live_records

#: Records deleted per retention transaction, so each stays short.
RETENTION_BATCH = 50
#: How often, at most, a busy server applies the retention period (it counts in days).
RETENTION_SWEEP_SECONDS: Final = 3600.0


def delete_record(session: Session, record: Record, *, actor: str) -> None:
    """Delete `record`'s headers, payload, replies, follow-ups and case entries, and log
    `record.deleted` by `actor`. Precondition: a write session holding the log lock."""
    for table, column in (
        (RecordHeader, RecordHeader.record_id),
        (PayloadChunk, PayloadChunk.record_id),
        (Reply, Reply.record_id),
        (Followup, Followup.record_id),
        (CaseRecord, CaseRecord.record_id),
    ):
        session.exec(delete(table).where(col(column) == record.id))
    record.received = 0
    record.lookup_hash = None
    session.add(record)
    session.flush()
    audit.append(session, Event(action=Action.RECORD_DELETED, actor=actor, record=record.id))


def drop_holder(session: Session, holder: str) -> int:
    """Delete every header `holder` holds; returns how many. For disabling an account, in
    the transaction that disables it (DESIGN.md section 2: its headers are deleted).

    Precondition: a write session. Takes the log lock first, as every grant does, so a
    grant to `holder` either commits before (and its header is deleted here) or runs
    after this transaction and finds the account disabled.
    """
    lock_log(session)
    result = session.execute(sa.delete(RecordHeader).where(col(RecordHeader.holder) == holder))
    assert isinstance(result, CursorResult)  # a DELETE's result counts its rows
    return result.rowcount


def purge_expired(engine: Engine, *, retention_days: int | None, today: date) -> int:
    """Delete every live record submitted more than `retention_days` days before `today`,
    logging each deletion; returns how many. `None` keeps everything.

    Runs in short transactions of at most `RETENTION_BATCH` records, so the write lock is
    never held long and a crash half-way leaves whole deletions, each with its entry.
    """
    if retention_days is None:
        return 0
    cutoff = today - timedelta(days=retention_days)
    purged = 0
    while True:
        with session_scope(engine) as session:
            lock_log(session)
            batch = session.exec(
                select(Record)
                .where(live_records(), col(Record.created_on) < cutoff)
                .order_by(col(Record.id))
                .limit(RETENTION_BATCH)
            ).all()
            for record in batch:
                delete_record(session, record, actor=audit.RETENTION)
        purged += len(batch)
        if len(batch) < RETENTION_BATCH:
            return purged


class RetentionSweep:
    """Applies the retention period at most once per `RETENTION_SWEEP_SECONDS` in this
    process, from whatever request calls `run_if_due` first; no scheduler is needed, and
    several workers sweeping at once each delete whole records (the batches serialize)."""

    def __init__(
        self,
        engine: Engine,
        *,
        retention_days: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._retention_days = retention_days
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None

    def run_if_due(self) -> int:
        """Purge if the period is set and no sweep ran lately; returns how many went."""
        if self._retention_days is None:
            return 0
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < RETENTION_SWEEP_SECONDS:
                return 0
            self._last = now
        return purge_expired(self._engine, retention_days=self._retention_days, today=utc_today())
