"""Cases: a caseworker's own grouping of records, with metadata sealed on their device.

The server holds a case's metadata only sealed (an age file the client made), and a list
of record ids. A case is its creator's alone; listing one shows only the records the
caller still holds, so a case never reveals a record after a revoke or a deletion.
Cases are not logged: they change no one's access to anything. Adding a record the caller
does not hold is refused like any other touch of it (`vault.records.access`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from vault.accounts.codes import random_id
from vault.audit.events import utc_today
from vault.db import session_scope
from vault.errors import Invalid, NotFound
from vault.models import Account, CaseFile, CaseRecord, Record, RecordHeader
from vault.records import access

#: Largest sealed case metadata: a title and notes, sealed to the caller.
MAX_CASE_BYTES: Final = 64 * 1024
NO_CASE: Final = "no such case of yours"


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    sealed: bytes
    records: list[str]


class Cases:
    """Case operations over one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, account: Account, *, sealed: bytes) -> str:
        """Store a new case of `account`'s with `sealed` metadata; return its id."""
        access.require_recipient(self._engine, account)
        if not sealed or len(sealed) > MAX_CASE_BYTES:
            raise Invalid(f"sealed case metadata is 1 to {MAX_CASE_BYTES} bytes")
        case = CaseFile(
            id=random_id(),
            creator=account.opaque_id,
            sealed=sealed,
            created_on=utc_today(),
        )
        with session_scope(self._engine) as session:
            session.add(case)
        return case.id

    def add(self, account: Account, case_id: str, *, record_id: str) -> bool:
        """File a record the caller holds in one of their cases. Returns False if it was
        there already. Raises `NotFound` for another's case or a record not held (logged)."""
        with access.holding(self._engine, account, record_id) as (session, record):
            case = session.get(CaseFile, case_id)
            if case is None or case.creator != account.opaque_id:
                raise NotFound(NO_CASE)
            if session.get(CaseRecord, (case.id, record.id)) is not None:
                return False
            try:
                with session.begin_nested():
                    session.add(CaseRecord(case_id=case.id, record_id=record.id))
            except IntegrityError:  # the same record, filed a moment ago
                return False
        return True

    def owned_by(self, account: Account) -> list[Case]:
        """The caller's cases, oldest first, each listing only the records they hold."""
        access.require_recipient(self._engine, account)
        with session_scope(self._engine, readonly=True) as session:
            cases = session.exec(
                select(CaseFile)
                .where(CaseFile.creator == account.opaque_id)
                .order_by(col(CaseFile.created_on), col(CaseFile.id))
            ).all()
            held = session.exec(
                select(CaseRecord.case_id, CaseRecord.record_id)
                .join(CaseFile, col(CaseFile.id) == col(CaseRecord.case_id))
                .join(Record, col(Record.id) == col(CaseRecord.record_id))
                .join(RecordHeader, col(RecordHeader.record_id) == col(Record.id))
                .where(
                    CaseFile.creator == account.opaque_id,
                    RecordHeader.holder == account.opaque_id,
                    access.live_records(),
                )
                .order_by(col(CaseRecord.record_id))
            ).all()
        records: dict[str, list[str]] = {}
        for case_id, record_id in held:
            records.setdefault(case_id, []).append(record_id)
        return [Case(c.id, bytes(c.sealed), records.get(c.id, [])) for c in cases]
