"""Engines and transactions: the SQLite pragmas hold, writers queue, failures roll back,
and audit-log appends are serialized by the database on both engines."""

from __future__ import annotations

import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from vault.db import SQLITE_BUSY_TIMEOUT_MS, create_engine, lock_log, migrate, session_scope
from vault.errors import ConfigError
from vault.models import LogEntry
from vault.settings import Settings, load_settings, prepare_data_dir

DAY = date(2026, 1, 1)
# How long a test waits for another thread to reach a point; only ever an upper bound.
PATIENCE_S = 30.0


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    settings = load_settings(data_dir=tmp_path / "data")
    prepare_data_dir(settings)
    return settings


@pytest.fixture
def sqlite_engine(sqlite_settings: Settings) -> Iterator[Engine]:
    engine = create_engine(sqlite_settings)
    migrate(sqlite_settings, engine=engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _append(session: Session, entry: bytes) -> int:
    """A minimal append: the next index is the current size, as the audit log will do."""
    lock_log(session)
    size = session.exec(select(func.count()).select_from(LogEntry)).one()
    session.add(LogEntry(leaf_index=size, entry=entry, leaf_hash=b"\0" * 32, day=DAY))
    session.flush()
    return size


def _indices(engine: Engine) -> list[int]:
    with session_scope(engine, readonly=True) as session:
        return list(session.exec(select(LogEntry.leaf_index).order_by(col(LogEntry.leaf_index))))


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting until {what}")
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [
        ("journal_mode", "wal"),
        ("synchronous", 2),  # FULL
        ("secure_delete", 1),
        ("foreign_keys", 1),
        ("busy_timeout", 30_000),
        ("query_only", 0),
    ],
)
def test_sqlite_pragmas_hold_on_every_new_connection(
    sqlite_engine: Engine, pragma: str, expected: object
) -> None:
    sqlite_engine.dispose()  # no pooled connection: both are new
    # Raw DBAPI connections, so no transaction starts: a second write transaction would
    # (rightly) wait for the first.
    first, second = sqlite_engine.raw_connection(), sqlite_engine.raw_connection()
    try:
        for connection in (first, second):
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA {pragma}")
            assert cursor.fetchone() == (expected,)
            cursor.close()
    finally:
        first.close()
        second.close()


def test_the_sqlite_file_is_private(sqlite_settings: Settings, sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        _append(session, b"x")
    for path in sqlite_settings.data_dir.iterdir():  # the database, its WAL and shm
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_sqlite_file_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'missing' / 'v.db'}")
    with pytest.raises(ConfigError, match=r"cannot create the SQLite database .*No such file"):
        create_engine(settings)


def test_concurrent_sqlite_writers_queue_and_both_succeed(sqlite_engine: Engine) -> None:
    # Both read the size, then write size+1. With a deferred BEGIN the second writer
    # would fail to upgrade its lock ("database is locked") or reuse the same index;
    # with BEGIN IMMEDIATE it waits for the first to commit, then sees its entry.
    both_inside = threading.Barrier(2, timeout=PATIENCE_S)

    def writer(entry: bytes) -> int:
        both_inside.wait()
        with session_scope(sqlite_engine) as session:
            index = _append(session, entry)
            time.sleep(0.2)  # hold the write lock while the other writer arrives
            return index

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [pool.submit(writer, entry) for entry in (b"a", b"b")]
        assert sorted(r.result() for r in results) == [0, 1]
    assert _indices(sqlite_engine) == [0, 1]


def test_a_writer_that_cannot_get_the_lock_gets_sqlalchemys_error(
    sqlite_settings: Settings, sqlite_engine: Engine
) -> None:
    # The BEGIN runs on the DBAPI connection (vault.db._driver_sql); its failure must still
    # be SQLAlchemy's OperationalError, as callers handle, naming no parameter.
    database = sqlite_settings.engine_url().database
    assert database is not None
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with sqlite_engine.connect() as connection:
            dbapi = connection.connection.dbapi_connection
            assert dbapi is not None
            dbapi.execute("PRAGMA busy_timeout = 50")
            try:
                with pytest.raises(sa.exc.OperationalError, match="database is locked"):
                    connection.begin()
            finally:
                dbapi.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        holder.rollback()
        holder.close()
    with session_scope(sqlite_engine) as session:  # the lock freed, writers go on
        assert _append(session, b"after") == 0


def test_session_scope_commits_a_block_that_succeeds(engine: Engine) -> None:
    with session_scope(engine) as session:
        _append(session, b"kept")
    assert _indices(engine) == [0]


def test_session_scope_rolls_back_a_block_that_raises(engine: Engine) -> None:
    def append_then_fail() -> None:
        with session_scope(engine) as session:
            _append(session, b"entry without its event")
            raise RuntimeError("event failed")

    with pytest.raises(RuntimeError, match="event failed"):
        append_then_fail()
    assert _indices(engine) == []


def test_a_readonly_session_cannot_write(engine: Engine) -> None:
    with session_scope(engine, readonly=True) as session:
        session.add(LogEntry(leaf_index=0, entry=b"x", leaf_hash=b"\0" * 32, day=DAY))
        with pytest.raises(sa.exc.DBAPIError):
            session.flush()
        session.rollback()
    assert _indices(engine) == []


def test_a_readonly_session_leaves_the_connection_writable(engine: Engine) -> None:
    for _ in range(3):  # the pool hands the same connection back and forth
        with session_scope(engine, readonly=True) as session:
            session.exec(select(LogEntry)).all()
        with session_scope(engine) as session:
            _append(session, b"x")
    assert _indices(engine) == [0, 1, 2]


def test_a_readonly_session_after_a_write_one_still_cannot_write(engine: Engine) -> None:
    for n in range(3):  # the same pooled connection: read-only is set again each time
        with session_scope(engine) as session:
            _append(session, b"x")
        with session_scope(engine, readonly=True) as session:
            session.add(LogEntry(leaf_index=n + 1, entry=b"y", leaf_hash=b"\0" * 32, day=DAY))
            with pytest.raises(sa.exc.DBAPIError):
                session.flush()
            session.rollback()
    assert _indices(engine) == [0, 1, 2]


def test_lock_log_refuses_a_readonly_session(engine: Engine) -> None:
    with (
        pytest.raises(ValueError, match="needs a write session"),
        session_scope(engine, readonly=True) as session,
    ):
        lock_log(session)


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.execute(
            sa.text(
                "INSERT INTO login_session (token_hash, account_id, expires_on, revoked) "
                "VALUES (:token_hash, 999, :day, false)"
            ),
            {"token_hash": b"t", "day": DAY},
        )


def _waiting_for_advisory_lock(engine: Engine) -> int:
    with engine.connect() as connection:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return int(connection.exec_driver_sql(query).scalar_one())


@pytest.mark.parametrize("db_settings", ["postgresql"], indirect=True)
def test_lock_log_makes_a_second_postgresql_appender_wait_for_the_first(
    engine: Engine,
) -> None:
    first_may_commit = threading.Event()

    def first() -> int:
        with session_scope(engine) as session:
            index = _append(session, b"first")
            first_may_commit.wait(PATIENCE_S)
            return index

    def second() -> int:
        with session_scope(engine) as session:
            return _append(session, b"second")

    with ThreadPoolExecutor(max_workers=2) as pool:
        first_done = pool.submit(first)
        _wait_for(lambda: _indices_in_flight(engine) == 1, "the first append holds the lock")
        second_done: Future[int] = pool.submit(second)
        _wait_for(lambda: _waiting_for_advisory_lock(engine) == 1, "the second one waits")
        assert not second_done.done()
        first_may_commit.set()
        # READ COMMITTED: once granted the lock, the second sees the first's entry.
        assert (first_done.result(), second_done.result()) == (0, 1)
    assert _indices(engine) == [0, 1]


def _indices_in_flight(engine: Engine) -> int:
    """How many sessions hold the log lock now (PostgreSQL)."""
    with engine.connect() as connection:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        return int(connection.exec_driver_sql(query).scalar_one())


def test_migrate_says_clearly_when_postgresql_is_unreachable(tmp_path: Path) -> None:
    # Port 1 on localhost: nothing listens there, so the connection is refused at once.
    settings = load_settings(
        data_dir=tmp_path, database_url="postgresql://u:canary-pw@127.0.0.1:1/vault"
    )
    with pytest.raises(ConfigError, match="cannot open the database") as caught:
        migrate(settings)
    assert "postgresql+psycopg://u:***@127.0.0.1:1/vault" in caught.value.diagnostics()
    assert "canary-pw" not in caught.value.diagnostics()


@pytest.mark.parametrize("db_settings", ["postgresql"], indirect=True)
def test_postgresql_transactions_read_committed_whatever_the_server_default(
    engine: Engine,
) -> None:
    # lock_log relies on each statement seeing what committed before the lock was granted.
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f'ALTER DATABASE "{engine.url.database}" '
            "SET default_transaction_isolation = 'repeatable read'"
        )
    engine.dispose()
    with session_scope(engine) as session:
        isolation = session.execute(sa.text("SHOW transaction_isolation")).scalar_one()
    assert isolation == "read committed"
