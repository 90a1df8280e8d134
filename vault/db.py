"""Engines, sessions and the transaction rules the vault relies on.

Nothing connects at import time: `create_engine(settings)` builds an engine when the
server starts, and the caller disposes of it.

Transactions. Every write transaction takes the write lock when it begins, so concurrent
writers queue instead of failing halfway:

- SQLite: pysqlite's own transaction handling is switched off and each transaction starts
  with ``BEGIN IMMEDIATE``. A deferred ``BEGIN`` would let two writers both read, then
  fail with "database is locked" when the second upgrades to a write lock; an immediate
  one waits (up to the busy timeout) for the first to commit. It also makes DDL
  transactional, so a migration applies whole or not at all.
- PostgreSQL: ``READ COMMITTED`` transactions, whatever the server's default; the audit
  log serializes its appends with a transaction-scoped advisory lock (`lock_log`). Under
  ``READ COMMITTED`` each statement after the lock sees every append committed before it
  was granted; under ``REPEATABLE READ`` the snapshot would predate the wait.

Every transaction is a write transaction unless it asks otherwise, including those of a
bare ``engine.connect()``: correctness first. A read-only session
(``session_scope(engine, readonly=True)``) starts a plain ``BEGIN`` on SQLite with
``PRAGMA query_only`` on, and ``SET TRANSACTION READ ONLY`` on PostgreSQL, so readers
never queue behind writers and can never write by mistake.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql.expression import Executable
from sqlmodel import Session

from vault.errors import ConfigError
from vault.settings import Settings

if TYPE_CHECKING:
    # Imported where used: Alembic (with Mako) costs the serving process about 13 MiB,
    # and `tvault serve` migrates in a short-lived child process (api.server).
    from alembic.config import Config

#: How long a SQLite writer waits for another writer's transaction before giving up.
#: Write transactions are short (one event, or one batch of log appends), so a wait this
#: long means something is stuck, not busy.
SQLITE_BUSY_TIMEOUT_MS: Final = 30_000

# DESIGN.md section 5: WAL, synchronous=FULL (an acknowledged submission survives power
# loss), secure_delete (deleted headers are overwritten, not left in free pages).
# busy_timeout comes first: switching a new file to WAL needs a brief exclusive lock.
_SQLITE_PRAGMAS: Final = (
    f"busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
    "journal_mode = WAL",
    "synchronous = FULL",
    "secure_delete = ON",
    "foreign_keys = ON",
)

#: The PostgreSQL advisory lock key that serializes audit-log appends ("tvaultlg").
LOG_LOCK_KEY: Final = 0x7476_6175_6C74_6C67
#: The PostgreSQL advisory lock key that serializes schema migrations ("tvaultmg").
MIGRATION_LOCK_KEY: Final = 0x7476_6175_6C74_6D67

_READONLY: Final = "tvault_readonly"
_QUERY_ONLY: Final = "tvault_query_only"


def create_engine(settings: Settings) -> Engine:
    """Return an engine for the configured database. The caller disposes of it.

    For SQLite, the database file is created with mode 0600 if it does not exist yet (its
    WAL and shared-memory files inherit that mode). Raises `ConfigError` if that fails.
    Connecting happens lazily, on first use.
    """
    url = settings.engine_url()
    if url.get_backend_name() == "sqlite":
        assert url.database is not None  # guaranteed by Settings
        _create_private_file(Path(url.database))
        engine = sa.create_engine(url)
        event.listen(engine, "connect", _configure_sqlite_connection)
    else:
        # pre_ping: a pooled connection dropped by a PostgreSQL restart is replaced
        # instead of failing the next request.
        engine = sa.create_engine(url, isolation_level="READ COMMITTED", pool_pre_ping=True)
    event.listen(engine, "begin", _begin)
    return engine


def _create_private_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise ConfigError(f"cannot create the SQLite database {path}: {exc.strerror}") from None
    os.close(fd)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Stop pysqlite from issuing its own (deferred) BEGIN; `_begin` issues ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
    finally:
        cursor.close()
    if mode != "wal":
        raise ConfigError(
            f"SQLite refused write-ahead logging (journal_mode is {mode}); "
            "put the database on a local file system"
        )


def _begin(connection: Connection) -> None:
    readonly = bool(connection.get_execution_options().get(_READONLY, False))
    if connection.dialect.name == "sqlite":
        # query_only belongs to the connection, not the transaction: set it only when it
        # changes (the pooled connection's info remembers what it was last set to).
        if connection.info.get(_QUERY_ONLY) is not readonly:
            _driver_sql(connection, f"PRAGMA query_only = {'ON' if readonly else 'OFF'}")
            connection.info[_QUERY_ONLY] = readonly
        _driver_sql(connection, "BEGIN" if readonly else "BEGIN IMMEDIATE")
    elif readonly:
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")


def _driver_sql(connection: Connection, sql: str) -> None:
    """Run `sql` on the DBAPI connection itself, raising its errors as SQLAlchemy would.

    Every transaction begins here, and SQLAlchemy's execution path (cache key, execution
    context, result) made an empty write transaction cost 99 µs where this takes 55 µs."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with _translated(connection.dialect, sql):
            cursor.execute(sql)
    finally:
        cursor.close()


@contextmanager
def _translated(dialect: Dialect, sql: str) -> Iterator[None]:
    """Raise the driver's errors as SQLAlchemy raises them (`IntegrityError` for a unique
    violation, `OperationalError` for a lock not granted, ...), so callers handle one
    family, never with the values (a payload, a lookup hash) in the message."""
    error: type[Exception] = dialect.loaded_dbapi.Error
    try:
        yield
    except error as exc:
        raise sa.exc.DBAPIError.instance(
            sql, None, exc, error, hide_parameters=True, dialect=dialect
        ) from exc


@contextmanager
def session_scope(engine: Engine, *, readonly: bool = False) -> Iterator[Session]:
    """Run one transaction: commit if the block succeeds, roll back if it raises.

    A write session (the default) holds the database's write lock on SQLite from its
    first statement to its end, so keep it short. A `readonly` session never takes it
    and is refused any write by the database. Objects stay usable after the block
    (``expire_on_commit=False``).
    """
    bind = engine.execution_options(**{_READONLY: True}) if readonly else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        # A read-only transaction commits too: a rollback would expire what it loaded.
        session.commit()


def lock_log(session: Session) -> None:
    """Serialize audit-log appends: call first in any transaction that appends.

    Precondition: `session` is a write session. On PostgreSQL this takes a
    transaction-scoped advisory lock, released at commit or rollback, so appends from
    every worker and host form one gap-free sequence. On SQLite it does nothing more:
    the ``BEGIN IMMEDIATE`` every write transaction starts with already serializes them.
    """
    connection = session.connection()
    if connection.get_execution_options().get(_READONLY, False):
        raise ValueError("lock_log needs a write session, not a read-only one")
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOG_LOCK_KEY})


# -- the direct path: a few hot statements on the DBAPI cursor ------------------------------


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement compiled for one dialect: its SQL, the order of its parameters (None for
    a named paramstyle) and the bind processors of the parameters that have one."""

    sql: str
    order: tuple[str, ...] | None
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        if self.processors:
            values = dict(values)
            for name, process in self.processors:
                if values[name] is not None:
                    values[name] = process(values[name])
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)


@functools.lru_cache(maxsize=512)
def _compile(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    """`statement` compiled for `dialect` (an INSERT for the columns `keys`), once."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    names = list(compiled.binds)
    if compiled.escaped_bind_names or any(
        bind.expanding or bind.literal_execute for bind in compiled.binds.values()
    ):
        raise ValueError("the direct path runs only plain bound parameters")
    if keys and (missing := set(names) - set(keys)):
        # SQLAlchemy would fill a column default in; the direct path does not guess.
        raise ValueError(f"an insert on the direct path names every column: {sorted(missing)}")
    processors = tuple(
        (name, process)
        for name in names
        if (process := compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
    )
    order = compiled.positiontup
    return _Compiled(str(compiled), None if order is None else tuple(order), processors)


class Direct:
    """The DBAPI cursor of a session's transaction, for the few statements a hot path runs
    many times (the audit log's appends, a batch of submissions).

    SQLAlchemy spends about 100 µs of Python on each statement it executes (cache key,
    execution context, result); on the DBAPI cursor the same statement costs a few. The
    statements are still SQLAlchemy's: each is compiled once per dialect, and every value
    goes through its column type's bind processor, so it is stored exactly as SQLAlchemy
    would store it. Values read come back as the driver gives them (bytes, int, str).

    Build statements once (module constants): compilations are cached by identity. Only
    plain bound parameters are supported (no expanding IN), and an insert names every
    column. Any ORM changes pending in the session are flushed first, as SQLAlchemy
    would before a statement, so the cursor sees them.
    """

    def __init__(self, session: Session) -> None:
        session.flush()
        connection = session.connection()
        self._dialect = connection.dialect
        self._cursor = connection.connection.cursor()

    def close(self) -> None:
        self._cursor.close()

    def __enter__(self) -> Direct:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def rows(self, statement: Executable, values: Mapping[str, Any] | None = None) -> list[Any]:
        """Run `statement` with `values` (by bind name); the rows, as tuples."""
        compiled = _compile(statement, self._dialect, ())
        with _translated(self._dialect, compiled.sql):
            self._cursor.execute(compiled.sql, compiled.parameters(values or {}))
            return list(self._cursor.fetchall())

    def scalar(self, statement: Executable, values: Mapping[str, Any] | None = None) -> Any:
        """Run `statement`, which returns one row of one column; that value."""
        ((value,),) = self.rows(statement, values)
        return value

    def insert(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert `rows` into `table` (one executemany); every row has the same keys, one
        for each column of the table."""
        if not rows:
            return
        compiled = _compile(_inserts(table), self._dialect, tuple(rows[0]))
        parameters: Any = [compiled.parameters(row) for row in rows]
        with _translated(self._dialect, compiled.sql):
            self._cursor.executemany(compiled.sql, parameters)


@functools.cache
def _inserts(table: sa.Table) -> sa.Insert:
    """One INSERT construct per table, so its compilations are cached."""
    return sa.insert(table)


def alembic_config() -> Config:
    """The Alembic configuration of the vault's migrations, independent of alembic.ini."""
    from alembic.config import Config

    spec = importlib.util.find_spec("migrations")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the vault's migrations package is not installed")
    config = Config()
    config.set_main_option("script_location", next(iter(spec.submodule_search_locations)))
    return config


def migrate(settings: Settings, *, engine: Engine | None = None) -> None:
    """Bring the database schema up to date (``alembic upgrade head``), atomically.

    Safe to call from several workers starting at once: the upgrade runs in one write
    transaction, serialized by ``BEGIN IMMEDIATE`` on SQLite and an advisory lock on
    PostgreSQL, and a worker that arrives second finds nothing left to do. Uses `engine`
    if given, else a temporary one. Raises `ConfigError` if the database is unreachable.
    Alembic keeps global state: call this from one thread of a process at a time.
    """
    from alembic import command

    own = engine is None
    engine = create_engine(settings) if engine is None else engine
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except sa.exc.OperationalError as exc:
        shown = settings.engine_url().render_as_string(hide_password=True)
        raise ConfigError(f"cannot open the database {shown}: {exc.orig}") from None
    finally:
        if own:
            engine.dispose()
