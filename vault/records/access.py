"""Who may act on a record: a live intake or caseworker account that holds a header for it.

Every refusal of a logged-in caller is a `refused` entry naming them (DESIGN.md section 4).
A record the caller does not hold and a record that does not exist get the same answer,
`NotFound` with the same text, so ids cannot be probed; only the log, which auditors read,
tells them apart (it names the record only when there is one, so a caller cannot write
an arbitrary id into the log).

Ordering. Each transaction that checks holding and then logs takes the log lock
(`vault.db.lock_log`) before it reads who holds what. So the log's order is the order in
which holdings were checked and changed, and an auditor replaying it (client/meaning.py)
never sees a fetch after the revoke that a concurrent transaction committed first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from vault import audit
from vault.audit import Action, Event
from vault.db import lock_log, session_scope
from vault.errors import Forbidden, NotFound
from vault.models import Account, Record, RecordHeader, Role

#: Roles whose members receive sealed records (DESIGN.md section 1).
RECIPIENT_ROLES: Final = frozenset({Role.INTAKE, Role.CASEWORKER})
#: `refused` reason: an admin or auditor asked for what only recipients do.
NOT_A_RECIPIENT: Final = "records-not-a-recipient"
#: `refused` reason: the caller holds no header for the record (or there is no record).
NOT_A_HOLDER: Final = "not-a-holder"

NOT_HELD: Final = "no such record among those sealed to you"


def is_deleted(record: Record) -> bool:
    """A completed record whose payload is gone was deleted (see `vault.records.deletion`)."""
    return record.completed and record.received == 0


def live_records() -> sa.ColumnElement[bool]:
    """The condition on `record` rows that anyone may see: completed and not deleted."""
    return sa.and_(col(Record.completed).is_(True), col(Record.received) > 0)


def holders_of(session: Session, record_id: str) -> list[str]:
    """Every holder id of the record, sorted (accounts and the recovery recipient)."""
    rows = session.exec(
        select(RecordHeader.holder).where(RecordHeader.record_id == record_id)
    ).all()
    return sorted(rows)


def held_record(session: Session, holder: str, record_id: str) -> Record | None:
    """The live record `record_id` if `holder` holds a header for it, else None."""
    return session.exec(
        select(Record)
        .join(RecordHeader, col(RecordHeader.record_id) == col(Record.id))
        .where(Record.id == record_id, RecordHeader.holder == holder, live_records())
    ).first()


def held_attachments(session: Session, holder: str, report_id: str) -> Sequence[Record]:
    """The live attachments of report `report_id` that `holder` holds a header for."""
    return session.exec(
        select(Record)
        .join(RecordHeader, col(RecordHeader.record_id) == col(Record.id))
        .where(Record.parent_id == report_id, RecordHeader.holder == holder, live_records())
        .order_by(col(Record.id))
    ).all()


def refuse(session: Session, account: Account, reason: str, *, record: str | None = None) -> None:
    """Append that `account` was refused for `reason` (a slug), naming `record` if given."""
    audit.append(
        session, Event(action=Action.REFUSED, actor=account.opaque_id, reason=reason, record=record)
    )


def require_recipient(engine: Engine, account: Account) -> None:
    """Refuse, and log, an account whose role never receives records. Raises `Forbidden`."""
    if account.role in RECIPIENT_ROLES:
        return
    with session_scope(engine) as session:
        refuse(session, account, NOT_A_RECIPIENT)
    raise Forbidden("only intake and caseworker accounts work with records")


@contextmanager
def holding(engine: Engine, account: Account, record_id: str) -> Iterator[tuple[Session, Record]]:
    """A write transaction, under the log lock, on a live record `account` holds.

    Refuses an account of the wrong role (`Forbidden`) and a record it does not hold
    (`NotFound`), committing the `refused` entry before raising. The block's own entries
    commit with what it changes, or not at all.
    """
    require_recipient(engine, account)
    with session_scope(engine) as session:
        lock_log(session)
        record = held_record(session, account.opaque_id, record_id)
        if record is not None:
            yield session, record
            return
        exists = session.get(Record, record_id) is not None
        refuse(session, account, NOT_A_HOLDER, record=record_id if exists else None)
    raise NotFound(NOT_HELD)
