"""vault.backup on SQLite and PostgreSQL: a backup holds the log as it was, a restore puts
it back and logs itself, and what is not a safe restore is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.vault.audit.support import memory_tree, published
from vault.audit import OPERATOR, Action, Event, append_many, decode_event, root
from vault.backup import BackupError, backup, restore
from vault.db import session_scope
from vault.logkey import LOG_KEY_FILE_NAME, load_or_create_key
from vault.settings import Settings, prepare_data_dir


@pytest.fixture
def data_dir(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The settings' data dir with its log key, and the database URL in the environment
    as `tvault backup` would find it."""
    assert db_settings.database_url is not None
    monkeypatch.setenv("TVAULT_DATABASE_URL", db_settings.database_url.get_secret_value())
    prepare_data_dir(db_settings)
    load_or_create_key(db_settings.data_dir / LOG_KEY_FILE_NAME)
    return db_settings.data_dir


def _grow(engine: Engine, start: int, count: int) -> None:
    with session_scope(engine) as session:
        append_many(session, [published(n) for n in range(start, start + count)])


def test_a_restore_puts_the_backup_back_and_logs_itself(
    engine: Engine, data_dir: Path, tmp_path: Path
) -> None:
    _grow(engine, 0, 5)
    before, _ = memory_tree(engine)
    out = tmp_path / "copy.backup"
    assert backup(data_dir=data_dir, out=out) == 5
    assert out.stat().st_mode & 0o777 == 0o600
    _grow(engine, 5, 3)
    engine.dispose()  # the server is stopped for a restore
    restored = restore(data_dir=data_dir, source=out)
    assert (restored.tree_size, restored.index) == (5, 5)
    after, tree = memory_tree(engine)
    assert after[:5] == before
    logged = decode_event(after[5])
    assert (logged.action, logged.actor, logged.version) == (Action.BACKUP_RESTORED, OPERATOR, 5)
    assert len(after) == 6
    # The restored tree's stored nodes carry on: its root is the recomputed one.
    with session_scope(engine, readonly=True) as session:
        assert root(session, 6) == tree.root()


def test_a_backup_never_overwrites_a_file(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.write_bytes(b"keep me")
    with pytest.raises(BackupError, match="exists"):
        backup(data_dir=data_dir, out=out)
    assert out.read_bytes() == b"keep me"


def test_a_restore_without_the_log_key_is_refused(
    data_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "copy.backup"
    backup(data_dir=data_dir, out=out)
    (data_dir / LOG_KEY_FILE_NAME).unlink()
    with pytest.raises(BackupError, match="has no log key"):
        restore(data_dir=data_dir, source=out)


def test_a_file_that_is_no_vault_backup_is_refused(
    data_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(os.urandom(8192))
    _grow(engine, 0, 2)
    with pytest.raises(BackupError):
        restore(data_dir=data_dir, source=junk)
    stored, _ = memory_tree(engine)
    assert len(stored) == 2


def test_only_a_restore_has_the_operator_as_actor() -> None:
    with pytest.raises(ValueError, match="only a restore"):
        Event(action=Action.LOGIN, actor=OPERATOR)
    assert Event(action=Action.BACKUP_RESTORED, actor=OPERATOR, version=0).actor == OPERATOR
