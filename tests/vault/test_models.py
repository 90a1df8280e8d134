"""The schema keeps DESIGN.md's promises about what a seized database reveals, and its
constraints hold on both engines."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from vault.db import session_scope
from vault.models import (
    Account,
    Org,
    PayloadChunk,
    Record,
    RecordHeader,
    RecordKind,
    Role,
    Submission,
    metadata,
)

DAY = date(2026, 1, 1)


def _names(columns: list[sa.Column[object]]) -> list[str]:
    return [f"{column.table.name}.{column.name}" for column in columns]


COLUMNS = [column for table in metadata.tables.values() for column in table.columns]


def _words(column: sa.Column[object]) -> set[str]:
    return set(column.name.lower().split("_"))


def test_times_are_kept_to_the_day() -> None:
    # DESIGN.md section 2: a seized database reveals times coarsened to the day.
    precise = [c for c in COLUMNS if isinstance(c.type, sa.DateTime | sa.Time | sa.Interval)]
    assert _names(precise) == []
    assert "log_entry.day" in _names([c for c in COLUMNS if isinstance(c.type, sa.Date)])


def test_no_column_holds_an_address() -> None:
    # DESIGN.md section 2: no IP address is stored anywhere.
    suspect = {"ip", "addr", "address", "host", "agent", "useragent"}
    assert _names([c for c in COLUMNS if _words(c) & suspect]) == []


def test_secrets_are_stored_only_hashed_or_sealed() -> None:
    secret = {"password", "token", "code", "secret", "totp", "half"}
    protected = {"hash", "sealed", "id"}
    clear = [c for c in COLUMNS if _words(c) & secret and not _words(c) & protected]
    assert _names(clear) == []


def _account(**changes: object) -> Account:
    values: dict[str, object] = {
        "opaque_id": "o1",
        "username": "mina",
        "role": Role.CASEWORKER,
        "password_hash": "$argon2id$...",
        "created_on": DAY,
    }
    return Account.model_validate({**values, **changes})


def test_a_role_is_stored_as_its_name(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(_account())
    with session_scope(engine, readonly=True) as session:
        stored = session.execute(sa.text("SELECT role FROM account")).scalar_one()
        account = session.exec(select(Account)).one()
    assert stored == "caseworker"
    assert account.role is Role.CASEWORKER


def test_a_role_outside_the_four_is_refused(engine: Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.execute(
            sa.text(
                "INSERT INTO account (opaque_id, username, role, password_hash, disabled,"
                " created_on) VALUES ('o', 'u', 'superuser', 'h', false, :day)"
            ),
            {"day": DAY},
        )


def test_usernames_are_unique(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(_account())
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.add(_account(opaque_id="o2"))


def test_a_vault_serves_one_org(engine: Engine) -> None:
    def org(id_: int) -> Org:
        return Org(
            id=id_, name="NGO", public_key=b"k", fingerprint=f"f{id_}", policy={}, created_on=DAY
        )

    with session_scope(engine) as session:
        session.add(org(1))
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.add(org(2))
    with session_scope(engine, readonly=True) as session:
        assert session.exec(select(Org)).one().policy == {}


def _submission(session: Session) -> None:
    session.add(Submission(id="S" * 26, expires_on=DAY, created_on=DAY))
    session.flush()


def _record(rid: str, **changes: object) -> Record:
    values: dict[str, object] = {
        "id": rid,
        "submission_id": "S" * 26,
        "kind": RecordKind.REPORT,
        "size": 10,
        "created_on": DAY,
    }
    return Record.model_validate({**values, **changes})


def test_a_record_keeps_its_payload_in_chunks(engine: Engine) -> None:
    # "offset" is a reserved word on PostgreSQL: the column must still work there.
    with session_scope(engine) as session:
        _submission(session)
        session.add(_record("R" * 26, received=10))
        session.flush()
        session.add(PayloadChunk(record_id="R" * 26, offset=0, data=b"01234"))
        session.add(PayloadChunk(record_id="R" * 26, offset=5, data=b"56789"))
    with session_scope(engine, readonly=True) as session:
        chunks = session.exec(select(PayloadChunk).order_by(PayloadChunk.offset)).all()  # type: ignore[arg-type]
    assert b"".join(chunk.data for chunk in chunks) == b"0123456789"


def test_a_record_holds_no_more_than_its_size(engine: Engine) -> None:
    with session_scope(engine) as session:
        _submission(session)
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.add(_record("R" * 26, received=11))


def test_lookup_hashes_and_holders_are_unique(engine: Engine) -> None:
    with session_scope(engine) as session:
        _submission(session)
        session.add(_record("A" * 26, lookup_hash=b"h"))
        session.flush()
        session.add(RecordHeader(record_id="A" * 26, holder="o1", header=b"x"))
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.add(_record("B" * 26, lookup_hash=b"h"))
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.add(RecordHeader(record_id="A" * 26, holder="o1", header=b"y"))
