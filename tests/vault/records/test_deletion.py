"""Retention, and a disabled account's headers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from tests.vault.records.conftest import Team
from tests.vault.records.support import (
    assert_log_honest,
    headers_of,
    log_entries,
    log_size,
    seed_record,
)
from vault import audit
from vault.accounts.codes import today
from vault.audit import Action
from vault.db import session_scope
from vault.records import Records, RetentionSweep, deletion, drop_holder, purge_expired


def test_retention_deletes_only_what_is_older_and_names_the_policy(
    engine: Engine, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deletion, "RETENTION_BATCH", 2)  # several short transactions
    holders = {team.intake.id: team.intake.recipient}
    old = [seed_record(engine, holders, day=today() - timedelta(days=31)) for _ in range(5)]
    kept = seed_record(engine, holders, day=today() - timedelta(days=30))
    before = log_size(engine)
    assert purge_expired(engine, retention_days=30, today=today()) == 5
    deleted = log_entries(engine, before)
    assert {(e.action, e.actor) for e in deleted} == {(Action.RECORD_DELETED, audit.RETENTION)}
    assert sorted(str(e.record) for e in deleted) == sorted(r.id for r in old)
    assert [r.id for r in Records(engine).inbox(team.intake.account)] == [kept.id]
    assert purge_expired(engine, retention_days=30, today=today()) == 0
    assert_log_honest(engine)


def test_without_a_retention_period_nothing_is_deleted(engine: Engine, team: Team) -> None:
    seed_record(engine, {team.intake.id: team.intake.recipient}, day=today() - timedelta(days=9999))
    assert purge_expired(engine, retention_days=None, today=today()) == 0


def test_only_a_deletion_may_name_the_retention_actor() -> None:
    with pytest.raises(ValueError, match="only a deletion"):
        audit.Event(action=Action.RECORD_EXPORTED, actor=audit.RETENTION, record="R" * 26)


def test_dropping_a_holder_deletes_all_its_headers_and_no_others(
    engine: Engine, team: Team
) -> None:
    both = {team.intake.id: team.intake.recipient, team.caseworker.id: team.caseworker.recipient}
    records = [seed_record(engine, both) for _ in range(3)]
    with session_scope(engine) as session:
        assert drop_holder(session, team.caseworker.id) == 3
    for record in records:
        assert set(headers_of(engine, record.id)) == {team.intake.id}


def test_the_retention_sweep_runs_at_most_hourly(engine: Engine, team: Team) -> None:
    holders = {team.intake.id: team.intake.recipient}
    now = [0.0]
    sweep = RetentionSweep(engine, retention_days=30, clock=lambda: now[0])
    seed_record(engine, holders, day=today() - timedelta(days=40))
    assert sweep.run_if_due() == 1
    seed_record(engine, holders, day=today() - timedelta(days=40))
    now[0] = deletion.RETENTION_SWEEP_SECONDS - 1
    assert sweep.run_if_due() == 0
    now[0] = deletion.RETENTION_SWEEP_SECONDS
    assert sweep.run_if_due() == 1
    assert RetentionSweep(engine, retention_days=None).run_if_due() == 0
