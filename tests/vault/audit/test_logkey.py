"""The log key: made once with mode 0600, refused when looser, registered idempotently,
and a database that knows another log key refuses a replaced key file."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from crypto.note import Signer
from vault.db import session_scope
from vault.errors import ConfigError
from vault.logkey import (
    LOG_KEY_FILE_NAME,
    ORIGIN_PREFIX,
    load_log_signer,
    load_or_create_key,
    register_log_key,
)
from vault.models import KeyPurpose, ServerKey
from vault.settings import Settings


def test_a_new_key_is_private_and_named_after_the_log(tmp_path: Path) -> None:
    path = tmp_path / LOG_KEY_FILE_NAME
    signer = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signer.name.startswith(ORIGIN_PREFIX)
    assert len(signer.name) == len(ORIGIN_PREFIX) + 16
    assert [p.name for p in tmp_path.iterdir()] == [LOG_KEY_FILE_NAME]  # no temporary left
    again = load_or_create_key(path)
    assert again.skey == signer.skey


def test_workers_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / LOG_KEY_FILE_NAME
    with ThreadPoolExecutor(8) as pool:
        keys = {s.skey for s in pool.map(lambda _: load_or_create_key(path), range(16))}
    assert len(keys) == 1


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_key_others_could_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / LOG_KEY_FILE_NAME
    load_or_create_key(path)
    path.chmod(mode)
    with pytest.raises(ConfigError, match=f"has mode {mode:04o}.*chmod 600"):
        load_or_create_key(path)


def test_a_symlinked_or_garbled_key_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    load_or_create_key(real)
    link = tmp_path / LOG_KEY_FILE_NAME
    link.symlink_to(real)
    with pytest.raises(ConfigError, match="cannot open the log key"):
        load_or_create_key(link)
    link.unlink()
    fd = os.open(link, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not a key\n")
    os.close(fd)
    with pytest.raises(ConfigError, match="does not hold a signer key"):
        load_or_create_key(link)


def _log_keys(engine: Engine) -> list[ServerKey]:
    with session_scope(engine, readonly=True) as session:
        return list(session.exec(select(ServerKey)).all())


def test_the_key_is_registered_once(engine: Engine, db_settings: Settings) -> None:
    signer = load_log_signer(db_settings, engine)
    assert load_log_signer(db_settings, engine).skey == signer.skey
    (key,) = _log_keys(engine)
    assert (key.purpose, key.name, key.public_key, key.retired_on) == (
        KeyPurpose.LOG,
        signer.name,
        signer.verifier.public_key,
        None,
    )


def test_a_replaced_key_file_is_refused(engine: Engine, db_settings: Settings) -> None:
    signer = load_log_signer(db_settings, engine)
    with session_scope(engine) as session, pytest.raises(ConfigError, match="different log key"):
        register_log_key(session, Signer.generate(signer.name))
    assert len(_log_keys(engine)) == 1
