"""A backup taken while sources are submitting restores to a vault where every record opens
and the log verifies: the real `tvault backup` and `tvault restore` against the real
`tvault serve --dev`, on SQLite and on PostgreSQL.

The operator runs `tvault backup` while several sources upload through `tvault submit`, so
the backup catches submissions half uploaded. The operator restores it into a fresh data
dir (with the two key files copied over, as docs/audit.md says: they are not in a backup)
and a fresh database, and starts a server there. Every submission acknowledged before the
backup began is in it, nothing in it was never acknowledged, no half-uploaded one is a
record, each record opens with `tvault open` to what was sent, and a new auditor's
`tvault audit verify` passes.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.db import PostgreSQL
from tests.e2e.support import AUDITOR, INTAKE
from tests.stress.harness import (
    acknowledged,
    check_opens,
    engine_of,
    finish,
    holdings,
    profile,
    record_ids,
    staged,
    start_sources,
    wait_for_acknowledgements,
)
from vault.accounts.sealkey import FILE_NAME as TOTP_SEAL_KEY
from vault.logkey import LOG_KEY_FILE_NAME

PROFILE = profile()


@pytest.fixture
def fresh_db_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Another empty database of the same engine as `db_url`, to restore into."""
    if engine_of(db_url) == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    server: PostgreSQL = request.getfixturevalue("postgresql")
    name = server.create()
    try:
        yield server.url_of(name)
    finally:
        server.drop(name)


@pytest.mark.timeout(PROFILE.timeout)
def test_a_backup_taken_during_submissions_restores_whole(
    tmp_path: Path, db_url: str, fresh_db_url: str
) -> None:
    began = time.monotonic()
    backup_file = tmp_path / "vault.backup"
    with staged(tmp_path, db_url) as stage:
        server, cli = stage.server, stage.cli
        sources, stopping = start_sources(stage, PROFILE.sources)
        try:
            wait_for_acknowledgements(sources, PROFILE.backup_acks)
            before_backup = acknowledged(sources)
            operator = {"TVAULT_DATABASE_URL": db_url}
            made = cli.json("backup", "--data-dir", str(server.data_dir),
                            "--out", str(backup_file), home="operator", **operator)  # fmt: skip
            wait_for_acknowledgements(sources, len(acknowledged(sources)) + PROFILE.backup_acks)
        finally:
            sent = finish(sources, stopping)

    # A fresh data dir holding only the key files the operator saved, and a fresh database.
    fresh = tmp_path / "restored-data"
    fresh.mkdir(mode=0o700)
    for name in (LOG_KEY_FILE_NAME, TOTP_SEAL_KEY):
        shutil.copy2(server.data_dir / name, fresh / name)
    operator = {"TVAULT_DATABASE_URL": fresh_db_url}
    restored = cli.json("restore", "--data-dir", str(fresh), "--from", str(backup_file),
                        home="operator", **operator)  # fmt: skip
    # On PostgreSQL `backup` names the log's size when pg_dump began; the dump, taken a
    # moment later, may hold entries appended since (docs/audit.md).
    assert restored["tree_size"] >= made["tree_size"]
    if engine_of(db_url) == "sqlite":
        assert restored["tree_size"] == made["tree_size"]
    held = holdings(fresh_db_url)  # fails if a completed record is not whole
    assert record_ids(before_backup) <= held.completed <= record_ids(sent)
    in_backup = [s for s in sent if s.record_id in held.completed]
    assert record_ids(in_backup) == held.completed  # a report and all its attachments, or none

    # The same port, so every home's saved server address still holds.
    server.data_dir, server.db_url = fresh, fresh_db_url
    server.start()
    try:
        listed = {item["id"] for item in cli.json("inbox", home=INTAKE)}
        assert listed == held.completed
        check_opens(stage.org, in_backup)
        # The auditor never verified before: the restored log is all they know.
        assert not (tmp_path / AUDITOR / "checkpoints.json").exists()
        verified = stage.org.audit_verify()
        restores = cli.json("audit", "log", "--action", "backup.restored", home=AUDITOR)
        assert [entry["version"] for entry in restores] == [restored["tree_size"]]
    finally:
        server.stop()

    print(
        f"\nstress[{PROFILE.name}, {engine_of(db_url)}] backup: "
        f"{len(sent)} submissions acknowledged, "
        f"{len(before_backup)} before the backup began, {len(in_backup)} in it "
        f"({len(held.completed)} records, {held.staged_submissions} staged uploads caught "
        f"half way), log of {restored['tree_size']} entries backed up, restored log of "
        f"{verified['tree_size']} verified, {time.monotonic() - began:.0f} s",
        file=sys.stderr,
    )
