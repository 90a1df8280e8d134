"""The bootstrap code: made once, stored only hashed, single use, expiring."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from vault.accounts import bootstrap, startup
from vault.accounts.codes import code_hash, today
from vault.db import session_scope
from vault.errors import Forbidden
from vault.models import BootstrapCode
from vault.settings import Settings


def _make(engine: Engine, settings: Settings) -> str | None:
    with session_scope(engine) as session:
        return bootstrap.ensure_bootstrap_code(session, settings.data_dir)


def test_first_start_makes_a_code_kept_only_hashed_in_a_private_file(
    engine: Engine, db_settings: Settings
) -> None:
    code = _make(engine, db_settings)
    assert code is not None
    path = db_settings.data_dir / bootstrap.FILE_NAME
    assert path.read_text() == code + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with session_scope(engine, readonly=True) as session:
        (row,) = session.exec(select(BootstrapCode)).all()
    assert row.code_hash == code_hash(code)
    assert code.encode() not in row.code_hash


def test_later_starts_make_no_new_code_while_one_is_unused(
    engine: Engine, db_settings: Settings
) -> None:
    first = _make(engine, db_settings)
    assert _make(engine, db_settings) is None
    assert (db_settings.data_dir / bootstrap.FILE_NAME).read_text() == f"{first}\n"


def test_an_expired_code_is_replaced_at_the_next_start(
    engine: Engine, db_settings: Settings
) -> None:
    _make(engine, db_settings)
    with session_scope(engine) as session:
        row = session.exec(select(BootstrapCode)).one()
        row.expires_on = today() - timedelta(days=1)
        session.add(row)
    assert _make(engine, db_settings) is not None


def test_a_code_is_single_use_and_a_wrong_one_is_refused(
    engine: Engine, db_settings: Settings
) -> None:
    code = _make(engine, db_settings)
    assert code is not None
    with pytest.raises(Forbidden), session_scope(engine) as session:
        bootstrap.redeem(session, "AAAA-BBBB")
    # Any case and grouping of the right code works, once.
    with session_scope(engine) as session:
        bootstrap.redeem(session, code.lower().replace("-", ""))
    with pytest.raises(Forbidden), session_scope(engine) as session:
        bootstrap.redeem(session, code)


def test_an_expired_code_is_refused(engine: Engine, db_settings: Settings) -> None:
    code = _make(engine, db_settings)
    assert code is not None
    with session_scope(engine) as session:
        row = session.exec(select(BootstrapCode)).one()
        row.expires_on = today() - timedelta(days=1)
        session.add(row)
    with pytest.raises(Forbidden), session_scope(engine) as session:
        bootstrap.redeem(session, code)


def test_prepare_is_idempotent_and_makes_the_sealing_key(
    engine: Engine, db_settings: Settings
) -> None:
    assert startup.prepare(db_settings, engine) is not None
    key = db_settings.data_dir / "totp-seal.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    assert startup.prepare(db_settings, engine) is None
    assert key.read_bytes() == before
