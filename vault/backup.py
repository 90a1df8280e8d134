"""Backup and restore of the vault's database, keeping the audit log continuous.

DESIGN.md section 4: a restore is itself a logged event. `restore` appends a
`backup.restored` entry, by the actor ``"operator"``, whose `version` is the restored log's
size, in one transaction with nothing else. The log then continues from the backup's
entries, so an auditor who kept a checkpoint newer than the backup sees a rollback (the
log is shorter) or a fork (the same size, another root); one who kept an older checkpoint
sees the log extend it. Nothing a restore does can hide it from such an auditor.

- SQLite: `backup` takes a consistent snapshot with SQLite's online backup API, safe while
  the server runs; `restore` copies a snapshot back the same way. Stop the server first.
- PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --single-transaction`, run
  with the password in the environment, never on the command line where `ps` shows it.

Only the database is backed up. The key files in the data dir (the log key, the TOTP
sealing key) are not: a backup must not carry the key that opens the TOTP secrets beside
them. The operator saves those files once, offline (docs/audit.md); a restore refuses a
data dir without its log key.

Entry points (`backup`, `restore`) raise only `BackupError`, with a message for the
operator, so `tvault backup` and `tvault restore` need nothing else from `vault`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy.engine import URL

from vault import audit
from vault.audit import OPERATOR, Action, Event
from vault.db import create_engine, migrate, session_scope
from vault.errors import VaultError
from vault.logkey import LOG_KEY_FILE_NAME
from vault.settings import Settings, load_settings, prepare_data_dir

# Tables a vault database has, whatever its migration: a file without them is no backup.
_REQUIRED_TABLES: Final = ("alembic_version", "log_entry", "log_node")


class BackupError(VaultError):
    """A backup or restore did not happen; the message says why and what to do."""

    summary = "backup or restore failed"


@dataclass(frozen=True)
class Restored:
    #: The restored log's size: the entries the backup held.
    tree_size: int
    #: The index of the `backup.restored` entry appended after them.
    index: int


def backup(*, data_dir: Path | None, out: Path) -> int:
    """Write a consistent copy of the database to `out` (mode 0600, never over a file).

    Safe while the server runs. Returns the number of log entries the copy holds (on
    PostgreSQL, the number when the dump started: it holds at least those).
    """
    with _errors():
        settings = _settings(data_dir)
        url = settings.engine_url()
        if url.get_backend_name() == "sqlite":
            return _sqlite_backup(Path(str(url.database)), out)
        size = _logged_size(settings)
        _pg("pg_dump", url, "--format=custom", "--no-owner", f"--file={out}", create=out)
        return size


def restore(*, data_dir: Path | None, source: Path) -> Restored:
    """Replace the database with the backup in `source`, bring its schema up to date, and
    log the restore. Precondition: the server is stopped."""
    with _errors():
        settings = _settings(data_dir)
        prepare_data_dir(settings)
        if not (settings.data_dir / LOG_KEY_FILE_NAME).exists():
            raise BackupError(
                f"{settings.data_dir} has no log key ({LOG_KEY_FILE_NAME}): put back the key "
                "files you saved before restoring, or checkpoints could not be signed"
            )
        url = settings.engine_url()
        if url.get_backend_name() == "sqlite":
            _sqlite_restore(source, Path(str(url.database)))
        else:
            _pg(
                "pg_restore",
                url,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                str(source),
            )
        return _log_restore(settings)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except BackupError:
        raise
    except VaultError as exc:
        raise BackupError(exc.diagnostics()) from None
    except (OSError, sqlite3.Error) as exc:
        raise BackupError(str(exc)) from None


def _settings(data_dir: Path | None) -> Settings:
    return load_settings() if data_dir is None else load_settings(data_dir=data_dir)


def _private_new_file(path: Path) -> None:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise BackupError(f"{path} exists; choose a new file") from None


def _sqlite_backup(database: Path, out: Path) -> int:
    if not database.exists():
        raise BackupError(f"no database at {database}")
    _private_new_file(out)
    try:
        live = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        with contextlib.closing(live), contextlib.closing(sqlite3.connect(out)) as copy:
            live.backup(copy)
            return _check_vault_file(copy)
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def _check_vault_file(connection: sqlite3.Connection) -> int:
    """The log size of a SQLite vault database; `BackupError` if it is not one."""
    try:
        (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError:
        raise BackupError("not a SQLite database") from None
    if verdict != "ok" or not tables.issuperset(_REQUIRED_TABLES):
        raise BackupError("not a vault database, or a damaged one")
    (last,) = connection.execute("SELECT max(leaf_index) FROM log_entry").fetchone()
    return 0 if last is None else int(last) + 1


def _sqlite_restore(source: Path, database: Path) -> None:
    uri = f"file:{source}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as backup_file:
        _check_vault_file(backup_file)
        # Written in place by the backup API, which keeps the file's mode and journal mode.
        if not database.exists():
            _private_new_file(database)
        with contextlib.closing(sqlite3.connect(database)) as live:
            backup_file.backup(live)


def _pg(tool: str, url: URL, *args: str, create: Path | None = None) -> None:
    program = shutil.which(tool)
    if program is None:
        raise BackupError(f"{tool} is not installed; install the PostgreSQL client tools")
    if create is not None:
        _private_new_file(create)
    # libpq reads the password from the environment, so it never appears in `ps`.
    env = {**os.environ, "PGPASSWORD": url.password or ""} if url.password else dict(os.environ)
    target = url.set(drivername="postgresql", password=None).render_as_string()
    done = subprocess.run(  # noqa: S603 - a fixed program with arguments we built
        [program, f"--dbname={target}", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if create is not None:
            create.unlink(missing_ok=True)
        raise BackupError(f"{tool} failed: {done.stderr.strip()}")


def _logged_size(settings: Settings) -> int:
    engine = create_engine(settings)
    try:
        with session_scope(engine, readonly=True) as session:
            return audit.tree_size(session)
    finally:
        engine.dispose()


def _log_restore(settings: Settings) -> Restored:
    engine = create_engine(settings)
    try:
        migrate(settings, engine=engine)
        with session_scope(engine) as session:
            size = audit.tree_size(session)
            index = audit.append(
                session, Event(action=Action.BACKUP_RESTORED, actor=OPERATOR, version=size)
            )
    finally:
        engine.dispose()
    return Restored(tree_size=size, index=index)
