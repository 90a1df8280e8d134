"""`tvault audit verify` and `tvault audit log`: the real CLI against a real `tvault serve`,
on SQLite and PostgreSQL.

An honest log verifies and its checkpoint is kept. Entries edited, deleted, reordered or
inserted directly in the database are detected, and named, by a returning auditor and by
a brand-new one (a home with no kept checkpoint).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from client.auditing import KEPT_FILE
from tests.api.conftest import RunningServer
from tests.e2e.support import ADMIN_PASSWORD, Cli, _totp, bootstrap_code
from tests.vault.audit.test_tampering import ENTRIES, _entry, delete, reorder
from tests.vault.audit.test_tampering import _set_entry as _set
from vault.audit import ANONYMOUS, Action, Event, append
from vault.db import create_engine, session_scope
from vault.settings import load_settings

AUDITOR_PASSWORD = "auditor canary 77ab passphrase"


@dataclass
class Org:
    """An org with an admin and an auditor, both logged in, on a running server."""

    cli: Cli
    server: RunningServer
    db_url: str
    fingerprint: str
    tmp_path: Path

    def verify(self, home: str = "auditor", *, ok: bool = True) -> dict[str, Any]:
        args = ("audit", "verify", "--server", self.server.base_url, "--org", self.fingerprint)
        run = self.cli.run if ok else self.cli.fails
        result: dict[str, Any] = json.loads(run(*args, "--json", home=home).stdout)
        assert result["ok"] is ok
        return result

    def brand_new_auditor(self, name: str) -> str:
        """A copy of the auditor's home (its session) with no checkpoint kept."""
        shutil.copytree(self.tmp_path / "auditor", self.tmp_path / name)
        (self.tmp_path / name / KEPT_FILE).unlink(missing_ok=True)
        return name

    def database(self) -> sa.Engine:
        return sa.create_engine(self.db_url.replace("postgresql://", "postgresql+psycopg://", 1))


def set_up_org(cli: Cli, server: RunningServer, db_url: str, tmp_path: Path) -> Org:
    """org init, an auditor enrolled, a roster published; admin and auditor log in."""
    code = bootstrap_code(server)
    admin_env = {"TVAULT_PASSWORD": ADMIN_PASSWORD}
    created = cli.json(
        "org",
        "init",
        "--server",
        server.base_url,
        "--dev",
        "--org-name",
        "Audited Org",
        "--admin",
        "root",
        "--bootstrap-code",
        code,
        home="admin",
        **admin_env,
    )
    fingerprint = created["fingerprint"]
    login = ["login", "--server", server.base_url, "--org", fingerprint]
    cli.run(
        *login,
        "--user",
        "root",
        home="admin",
        TVAULT_TOTP=_totp(created["totp_secret"], 0),
        **admin_env,
    )
    code = cli.json("user", "add", "au1", "--role", "auditor", home="admin")["enrolment_code"]
    enrolled = cli.json(
        "enroll",
        "--server",
        server.base_url,
        "--org",
        fingerprint,
        "--user",
        "au1",
        "--code",
        code,
        "--dev",
        home="auditor",
        TVAULT_PASSWORD=AUDITOR_PASSWORD,
    )
    cli.run("roster", "publish", "--yes", home="admin")
    # Two more accounts, so the log is long enough (11 entries) to tamper in the middle.
    for user, role in (("in1", "intake"), ("cw1", "caseworker")):
        cli.run("user", "add", user, "--role", role, home="admin")
    cli.run(
        *login,
        "--user",
        "au1",
        home="auditor",
        TVAULT_PASSWORD=AUDITOR_PASSWORD,
        TVAULT_TOTP=_totp(enrolled["totp_secret"], 0),
    )
    return Org(cli, server, db_url, fingerprint, tmp_path)


@pytest.fixture
def org(served: tuple[RunningServer, str], tmp_path: Path) -> Org:
    server, db_url = served
    return set_up_org(Cli(tmp_path, server.base_url), server, db_url, tmp_path)


def edit(connection: Connection) -> None:
    # What a tamperer would want: an entry saying someone else did it.
    _set(connection, 7, _entry(connection, 7).replace(b'"actor":"', b'"actor":"x', 1))


def insert(connection: Connection) -> None:
    # Keep the log's size, so the signed checkpoint still names it: drop the newest entry
    # and move the others up from the top down, so no primary key collides.
    last = connection.execute(sa.select(sa.func.max(ENTRIES.c.leaf_index))).scalar_one()
    connection.execute(sa.delete(ENTRIES).where(ENTRIES.c.leaf_index == last))
    for index in range(last - 1, 6, -1):
        where = ENTRIES.c.leaf_index == index
        connection.execute(sa.update(ENTRIES).where(where).values(leaf_index=index + 1))
    entry = b'{"action":"logout","actor":"anonymous","day":"2026-01-01"}'
    day = datetime.now(UTC).date()
    connection.execute(
        sa.insert(ENTRIES), [{"leaf_index": 7, "entry": entry, "leaf_hash": b"\0" * 32, "day": day}]
    )


TAMPERING: dict[str, tuple[Callable[[Connection], None], str]] = {
    "entry-edited": (edit, "the entry at index 7 was edited"),
    "entry-deleted": (delete, "the entry at index 7 was deleted"),
    "entries-reordered": (reorder, "entries 7 and 8 were swapped (reordered)"),
    "entry-inserted": (insert, "an entry was inserted at index 7"),
}


@contextmanager
def tampered(org: Org, tamper: Callable[[Connection], None]) -> Iterator[None]:
    """Tamper with the entries table directly; put every row back afterwards."""
    engine = org.database()
    try:
        with engine.begin() as connection:
            rows = [dict(row._mapping) for row in connection.execute(sa.select(ENTRIES))]
            tamper(connection)
        yield
        with engine.begin() as connection:
            connection.execute(sa.delete(ENTRIES))
            connection.execute(sa.insert(ENTRIES), rows)
    finally:
        engine.dispose()


def _failures(result: dict[str, Any]) -> list[str]:
    return [f"{c['check']}: {c['detail']}" for c in result["checks"] if not c["ok"]]


def test_an_honest_log_verifies_and_its_checkpoint_is_kept(org: Org) -> None:
    first = org.verify()
    assert first["checkpoint_saved"]
    assert first["previous_tree_size"] is None
    assert {c["check"] for c in first["checks"]} >= {
        "roster",
        "checkpoint",
        "consistency",
        "entries",
        "meaning",
    }
    kept = json.loads((org.tmp_path / "auditor" / KEPT_FILE).read_text())
    assert list(kept) == [org.fingerprint]
    # The admin adds a user: the log grows, and the returning auditor checks consistency.
    org.cli.run("user", "add", "cw2", "--role", "caseworker", home="admin")
    second = org.verify()
    assert second["previous_tree_size"] == first["tree_size"]
    assert second["tree_size"] == first["tree_size"] + 2
    text = org.cli.run(
        "audit", "verify", "--server", org.server.base_url, "--org", org.fingerprint, home="auditor"
    ).stdout
    assert "The log verifies" in text


@pytest.mark.parametrize("case", TAMPERING)
def test_tampering_in_the_database_is_found_by_returning_and_new_auditors(
    org: Org, case: str
) -> None:
    tamper, found = TAMPERING[case]
    before = org.verify()
    with tampered(org, tamper):
        returning = org.verify(ok=False)
        new = org.verify(org.brand_new_auditor("new"), ok=False)
        text = org.cli.fails(
            "audit",
            "verify",
            "--server",
            org.server.base_url,
            "--org",
            org.fingerprint,
            home="auditor",
        )
    for result in (returning, new):
        (failure,) = _failures(result)
        assert failure.startswith("entries: "), failure
        assert found in failure, failure
        assert not result["checkpoint_saved"]
    assert returning["previous_tree_size"] == before["tree_size"]
    assert "FAIL entries:" in text.stdout
    assert found in text.stdout
    # The kept checkpoint did not move; with the rows put back, all verifies again.
    after = org.verify()
    assert after["previous_tree_size"] == before["tree_size"]


def test_audit_log_lists_and_filters_the_verified_entries(org: Org) -> None:
    everything = org.cli.json("audit", "log", home="auditor")
    assert [e["index"] for e in everything] == list(range(len(everything)))
    logins = org.cli.json("audit", "log", "--action", "login", home="auditor")
    assert len(logins) == 2
    assert {e["action"] for e in logins} == {"login"}
    by_root = org.cli.json("audit", "log", "--actor", "root", home="auditor")
    assert by_root
    assert all(e["actor"] == by_root[0]["actor"] for e in by_root)
    assert len(by_root) < len(everything)
    today = datetime.now(UTC).date().isoformat()
    assert (
        org.cli.json("audit", "log", "--since", today, "--until", today, home="auditor")
        == everything
    )
    assert org.cli.json("audit", "log", "--until", "2000-01-01", home="auditor") == []
    table = org.cli.run("audit", "log", "--action", "roster.published", home="auditor").stdout
    assert "roster.published" in table
    assert "root" in table
    org.cli.fails("audit", "log", home="admin-without-session")
    with tampered(org, edit):
        refused = org.cli.fails("audit", "log", home="auditor")
    assert "does not verify" in refused.stderr


def test_a_bad_day_is_a_usage_error(org: Org) -> None:
    result = org.cli._run(("audit", "log", "--since", "yesterday"), "auditor", 2, {})
    assert "not a day" in result.stderr


def test_a_fetch_by_an_account_not_holding_the_record_fails_the_meaning_check(org: Org) -> None:
    """The log may be intact and still say something impossible: the server logged a fetch
    by an account the record was never sealed to (DESIGN.md section 4)."""
    engine = org.database()
    try:
        with engine.connect() as connection:
            ids: dict[str, str] = dict(
                connection.execute(sa.text("SELECT username, opaque_id FROM account")).all()
            )
    finally:
        engine.dispose()
    settings = load_settings(data_dir=org.tmp_path / "data", database_url=org.db_url)
    vault_engine = create_engine(settings)
    record = "record-0000000000000001"
    try:
        with session_scope(vault_engine) as session:
            submitted = Event(
                action=Action.RECORD_SUBMITTED,
                actor=ANONYMOUS,
                record=record,
                commitment="0" * 64,
                holders=(ids["cw1"],),
            )
            append(session, submitted)
            fetched = Event(
                action=Action.RECORD_FETCHED, actor=ids["in1"], record=record, part="payload"
            )
            index = append(session, fetched)
    finally:
        vault_engine.dispose()
    listed = org.cli.json("audit", "log", "--record", record, home="auditor")
    assert [e["action"] for e in listed] == ["record.submitted", "record.fetched"]
    result = org.verify(ok=False)
    assert _failures(result) == [
        f"meaning: entry {index}: {ids['in1']} fetched the payload of record {record} "
        "without holding it then"
    ]
