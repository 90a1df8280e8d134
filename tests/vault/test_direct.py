"""The direct path (`vault.db.Direct`): a hot statement on the DBAPI cursor stores and reads
exactly what SQLAlchemy would, in the session's transaction, and fails as SQLAlchemy fails."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vault.db import Direct, session_scope
from vault.models import Record, RecordKind, Submission, metadata

DAY = date(2026, 3, 1)
SUBMISSION = metadata.tables[Submission.__tablename__]
RECORD = metadata.tables[Record.__tablename__]
SECRET = b"a lookup hash no error may show".ljust(32, b".")


def _submission(sid: str) -> dict[str, Any]:
    return {"id": sid, "staged": False, "expires_on": DAY, "created_on": DAY}


def _record(rid: str, sid: str, lookup_hash: bytes | None = None) -> dict[str, Any]:
    return {
        "id": rid,
        "submission_id": sid,
        "kind": RecordKind.REPORT,
        "parent_id": None,
        "size": 10,
        "received": 10,
        "commitment": b"c" * 32,
        "lookup_hash": lookup_hash,
        "log_index": None,
        "completed": True,
        "created_on": DAY,
    }


def _stored(engine: Engine, table: sa.Table) -> list[tuple[Any, ...]]:
    """The rows of `table` as the database holds them (no type processing)."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"SELECT * FROM {table.name}")
        return [tuple(row) for row in rows]


def test_values_are_stored_as_sqlalchemy_stores_them(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.execute(sa.insert(SUBMISSION), [_submission("A" * 26)])
        session.execute(sa.insert(RECORD), [_record("C" * 26, "A" * 26)])
    through_sqlalchemy = _stored(engine, RECORD), _stored(engine, SUBMISSION)
    with session_scope(engine) as session:
        session.execute(sa.delete(RECORD))
        session.execute(sa.delete(SUBMISSION))
    with session_scope(engine) as session, Direct(session) as direct:
        direct.insert(SUBMISSION, [_submission("A" * 26)])
        direct.insert(RECORD, [_record("C" * 26, "A" * 26)])
    assert (_stored(engine, RECORD), _stored(engine, SUBMISSION)) == through_sqlalchemy
    # And SQLAlchemy reads them back as it wrote them: the date, the enum, the flag.
    with session_scope(engine, readonly=True) as session:
        record = session.get_one(Record, "C" * 26)
    assert (record.kind, record.completed, record.created_on) == (RecordKind.REPORT, True, DAY)


def test_statements_run_in_the_sessions_transaction(engine: Engine) -> None:
    query = sa.select(sa.func.count()).select_from(SUBMISSION)
    seen: list[int] = []

    def write_then_fail() -> None:
        with session_scope(engine) as session:
            # Pending ORM changes are flushed first, so the cursor sees them ...
            session.add(Submission(**_submission("B" * 26)))
            with Direct(session) as direct:
                direct.insert(SUBMISSION, [_submission("D" * 26)])
                seen.append(direct.scalar(query))
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert seen == [2]
    # ... and a rollback takes back what the cursor wrote with the rest.
    with session_scope(engine, readonly=True) as session, Direct(session) as direct:
        assert direct.scalar(query) == 0
        assert direct.rows(sa.select(SUBMISSION.c.id)) == []


def test_a_unique_violation_is_sqlalchemys_without_the_values_sent(engine: Engine) -> None:
    with session_scope(engine) as session, Direct(session) as direct:
        direct.insert(SUBMISSION, [_submission("A" * 26)])
        direct.insert(RECORD, [_record("C" * 26, "A" * 26, SECRET)])
    with (
        pytest.raises(sa.exc.IntegrityError) as raised,
        session_scope(engine) as session,
        Direct(session) as direct,
    ):
        direct.insert(RECORD, [_record("E" * 26, "A" * 26, SECRET)])
    # The values sent are not added to the message (PostgreSQL's own detail names the
    # duplicate key, as it does through SQLAlchemy's path).
    assert "a lookup hash" not in str(raised.value)
    assert "[parameters" not in str(raised.value)


def test_an_insert_names_every_column(engine: Engine) -> None:
    row = _submission("A" * 26)
    del row["staged"]
    with (
        session_scope(engine) as session,
        Direct(session) as direct,
        pytest.raises(ValueError, match="every column"),
    ):
        direct.insert(SUBMISSION, [row])


def test_an_expanding_parameter_is_refused(engine: Engine) -> None:
    ids: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
    query = sa.select(SUBMISSION.c.id).where(SUBMISSION.c.id.in_(ids))
    with (
        session_scope(engine, readonly=True) as session,
        Direct(session) as direct,
        pytest.raises(ValueError, match="plain bound parameters"),
    ):
        direct.rows(query, {"ids": ["A" * 26]})
