"""Backup and restore keep the log continuous, and a restore cannot hide from an auditor
who holds a newer checkpoint: the real CLI against a real server, SQLite and PostgreSQL.

The operator backs up while the server runs, the org goes on, then an old backup is
restored. The log key re-signs the restored log, so a brand-new auditor, or one whose
checkpoint predates the backup, sees a consistent log (the honest limit of DESIGN.md
section 2); the auditor who kept a newer checkpoint sees the rollback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import RunningServer, start_server
from tests.e2e.test_audit import Org, org

__all__ = ["org"]


def _operator(org: Org, *args: str, ok: bool = True) -> dict[str, Any]:
    env = {"TVAULT_DATABASE_URL": org.db_url}
    run = org.cli.run if ok else org.cli.fails
    result = run(*args, "--data-dir", str(org.tmp_path / "data"), "--json", home="operator", **env)
    return json.loads(result.stdout) if ok else {"stderr": result.stderr}


def _restart(org: Org, monkeypatch: pytest.MonkeyPatch) -> RunningServer:
    monkeypatch.setenv("TVAULT_DATABASE_URL", org.db_url)
    monkeypatch.setenv("TVAULT_KDF_PROFILE", "test")
    restarted = start_server(org.tmp_path / "data", org.tmp_path / "restarted.log", "--dev")
    org.server = restarted
    org.cli.server = restarted.base_url
    return restarted


# One story with two server starts and some twenty CLI runs: on a loaded machine it needs
# more than the suite's default two minutes.
@pytest.mark.timeout(300)
def test_restoring_an_old_backup_is_logged_and_caught_as_a_rollback(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup_file = org.tmp_path / "vault.backup"
    before_backup = org.verify(org.brand_new_auditor("old-auditor"))
    made = _operator(org, "backup", "--out", str(backup_file))
    assert made["tree_size"] == before_backup["tree_size"]
    assert backup_file.stat().st_mode & 0o777 == 0o600
    # The org goes on; the auditor verifies and keeps the newer checkpoint.
    org.cli.run("user", "add", "cw2", "--role", "caseworker", home="admin")
    newer = org.verify()
    assert newer["tree_size"] == before_backup["tree_size"] + 2

    old_url = org.server.base_url
    org.server.stop()
    restored = _operator(org, "restore", "--from", str(backup_file))
    assert restored == {"tree_size": made["tree_size"], "index": made["tree_size"]}
    restarted = _restart(org, monkeypatch)
    try:
        # Every home named the old port; the server is the same vault on a new one.
        for state in org.tmp_path.glob("*/state.json"):
            state.write_text(state.read_text().replace(old_url, restarted.base_url))
        caught = org.verify(ok=False)
        (failure,) = (c["detail"] for c in caught["checks"] if not c["ok"])
        assert failure.startswith("ROLLBACK: the log now has")
        assert f"fewer than the {newer['tree_size']}" in failure
        assert not caught["checkpoint_saved"]
        # What cannot be caught without a newer checkpoint: a brand-new auditor, and one
        # whose checkpoint predates the backup, see a log that extends what they know;
        # the restore is in it for them to read.
        fresh = org.verify(org.brand_new_auditor("fresh"))
        assert fresh["tree_size"] == made["tree_size"] + 1
        assert org.verify("old-auditor")["previous_tree_size"] == before_backup["tree_size"]
        entries = org.cli.json("audit", "log", "--action", "backup.restored", home="fresh")
        assert [(e["actor"], e["version"]) for e in entries] == [("operator", made["tree_size"])]
        # The log grows back past the kept size: now it is a fork, caught all the same.
        org.cli.run("user", "add", "cw3", "--role", "caseworker", home="admin")
        forked = org.verify(ok=False)
        (failure,) = (c["detail"] for c in forked["checks"] if not c["ok"])
        assert failure.startswith("FORK: the log of"), failure
    finally:
        restarted.stop()


def test_a_restore_refuses_what_is_no_vault_backup(org: Org, tmp_path: Path) -> None:
    org.server.stop()
    junk = tmp_path / "junk"
    junk.write_bytes(os.urandom(4096))
    refused = _operator(org, "restore", "--from", str(junk), ok=False)
    assert "backup or restore failed" in str(refused["stderr"])
