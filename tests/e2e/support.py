"""Shared helpers for the end-to-end tests: the real `tvault` CLI against a real `tvault serve`.

- `serve()` starts `tvault serve --dev` on a free port (extra environment allowed, e.g. a
  small ``TVAULT_MAX_UPLOAD_BYTES``); the `served` fixture (registered in conftest.py, so
  every e2e module has it without an import) runs one on each engine of `db_url`.
- `Cli` runs the console script with its own home per person and checks the exit code.
- `bootstrap_code()` reads the one-time code the server printed; `totp()` makes a code.
- `set_up_staff()` builds an org with an admin, an intake caseworker, a second caseworker and
  an auditor, all enrolled, the roster published and everyone logged in (the `staffed`
  fixture: one on the `served` server); `korean_report()` fills in the Korean template;
  `age_identity()` reads a caseworker's age identity, for stock age tools;
  `public_roster_swapped()` plays a server that swaps the intake key in the public roster.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa

from client.home import IDENTITY_FILE
from crypto import age, identity
from tests.api.conftest import RunningServer, free_port

TVAULT = Path(sys.executable).with_name("tvault")
ADMIN_PASSWORD = "admin canary 91c2 passphrase"
PASSPHRASE = "identity canary 5d0e"
CODE = re.compile(r"one-time bootstrap code: ([A-Z2-7-]+)")


def bootstrap_code(server: RunningServer) -> str:
    """The one-time bootstrap code that `tvault serve` printed on first start."""
    match = CODE.search(server.output.read_text())
    assert match, "tvault serve printed no bootstrap code"
    return match.group(1)


class Cli:
    """The `tvault` console script; each call names the home (one per person) it runs in."""

    def __init__(self, tmp_path: Path, server: str) -> None:
        self.tmp_path = tmp_path
        self.server = server

    def run(self, *args: str, home: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run tvault and require exit code 0."""
        return self._run(args, home, 0, env)

    def fails(self, *args: str, home: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run tvault and require exit code 1 (refused, or a failed check)."""
        return self._run(args, home, 1, env)

    def _run(
        self, args: tuple[str, ...], home: str, expect: int, env: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "TVAULT_PASSPHRASE": PASSPHRASE, **env}
        result = subprocess.run(
            [str(TVAULT), *args, "--home", str(self.tmp_path / home)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=environment,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == expect, result.stdout + result.stderr
        return result

    def json(self, *args: str, home: str, **env: str) -> Any:
        return json.loads(self.run(*args, "--json", home=home, **env).stdout)


def totp(secret: str, step_offset: int) -> str:
    """The TOTP code for `secret`, `step_offset` 30-second steps from now."""
    return str(pyotp.TOTP(secret).at(time.time() + 30 * step_offset))


_totp = totp  # the name the older modules use


def database(db_url: str) -> sa.Engine:
    """An engine on the server's database, to read or (as a malicious server) edit it."""
    return sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))


@contextmanager
def serve(tmp_path: Path, db_url: str, **env: str) -> Iterator[RunningServer]:
    """`tvault serve --dev` on a free port of localhost, with `env` added; stopped on exit.

    Its output goes to ``tmp_path / "server.log"``; the data directory is ``tmp_path / "data"``.
    """
    port = free_port()
    output = tmp_path / "server.log"
    environment = {**os.environ, "TVAULT_DATABASE_URL": db_url, "TVAULT_KDF_PROFILE": "test"}
    environment.update(env)
    args = [str(TVAULT), "serve", "--dev", "--data-dir", str(tmp_path / "data")]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*args, "--host", "localhost", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
        )
    running = RunningServer(process, f"http://localhost:{port}", output)
    deadline = time.monotonic() + 60
    while CODE.search(output.read_text()) is None or "startup complete" not in output.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            running.stop()
            pytest.fail(f"tvault serve did not start:\n{output.read_text()}")
        time.sleep(0.05)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[tuple[RunningServer, str]]:
    """A running `tvault serve --dev` and its database URL, on SQLite and on PostgreSQL."""
    with serve(tmp_path, db_url) as running:
        yield running, db_url


# --- an org with staff ------------------------------------------------------------------

#: Usernames, which are also the names of their homes under `tmp_path`.
ADMIN = "root"
INTAKE = "in1"
CASEWORKER = "cw2"
AUDITOR = "au1"
SOURCE = "source"
STAFF_ROLES = {INTAKE: "intake", CASEWORKER: "caseworker", AUDITOR: "auditor"}


def password_of(user: str) -> str:
    """A password for `user` (the server refuses one that contains the username)."""
    return f"password of the {STAFF_ROLES.get(user, 'admin')} 4e1f!"


@dataclass
class StaffedOrg:
    """An org on a running server, made through the CLI by `set_up_staff`.

    The admin (`ADMIN`), an intake caseworker (`INTAKE`), a second caseworker
    (`CASEWORKER`) and an auditor (`AUDITOR`) are enrolled and logged in, each in the home
    named after them; the roster is published. The source's home is `SOURCE`.
    """

    cli: Cli
    server: RunningServer
    db_url: str
    fingerprint: str
    recipient_type: str
    totp_secrets: dict[str, str] = field(default_factory=dict)
    recovery_shares: list[str] = field(default_factory=list)

    @property
    def tmp_path(self) -> Path:
        return self.cli.tmp_path

    def submit(
        self, report: Path, *attachments: Path, home: str = SOURCE, **env: str
    ) -> dict[str, Any]:
        """`tvault submit --json` as a source (weak codename KDF); returns what it printed."""
        result: dict[str, Any] = self.cli.json(*self.submit_args(report, *attachments),
                                               home=home, **env)  # fmt: skip
        return result

    def submit_args(self, report: Path, *attachments: Path) -> list[str]:
        args = ["submit", *self.source_args(), "--report", str(report)]
        for attachment in attachments:
            args += ["--attach", str(attachment)]
        return args

    def source_args(self) -> list[str]:
        """What `submit` and `replies` take to reach and check this org (weak KDF)."""
        return ["--server", self.server.base_url, "--org", self.fingerprint, "--dev"]

    def replies(self, codename: str, *args: str, home: str = SOURCE) -> dict[str, Any]:
        """`tvault replies --json` with `codename` in TVAULT_CODENAME."""
        result: dict[str, Any] = self.cli.json(
            "replies", *self.source_args(), *args, home=home, TVAULT_CODENAME=codename
        )
        return result

    def audit_verify(self) -> dict[str, Any]:
        """`tvault audit verify` by the auditor; it must pass."""
        args = ("audit", "verify", "--server", self.server.base_url, "--org", self.fingerprint)
        result: dict[str, Any] = self.cli.json(*args, home=AUDITOR)
        assert result["ok"] is True, result
        return result

    def login(self, user: str, step: int = 0) -> None:
        """Log `user` in again (each TOTP code works once: pass a `step` not used yet)."""
        login = ["login", "--server", self.server.base_url, "--org", self.fingerprint]
        self.cli.run(*login, "--user", user, home=user, TVAULT_PASSWORD=password_of(user),
                     TVAULT_TOTP=totp(self.totp_secrets[user], step))  # fmt: skip

    def database(self) -> sa.Engine:
        return database(self.db_url)


def set_up_staff(
    cli: Cli,
    server: RunningServer,
    db_url: str,
    *,
    recipient_type: str = "pq",
    recovery: bool = False,
    extra_staff: dict[str, str] | None = None,
) -> StaffedOrg:
    """Bootstrap, `org init` (`recipient_type`; with `recovery`, a 2-of-3 recovery
    recipient), add and enrol the intake caseworker, the second caseworker, the auditor
    (and `extra_staff`, user to role), publish the roster, and log everyone in."""
    init = ["org", "init", "--server", server.base_url, "--dev", "--org-name", "Test Org"]
    init += ["--admin", ADMIN, "--bootstrap-code", bootstrap_code(server)]
    init += ["--recipient-type", recipient_type]
    if recovery:
        init += ["--recovery-threshold", "2", "--recovery-shares", "3"]
    created = cli.json(*init, home=ADMIN, TVAULT_PASSWORD=password_of(ADMIN))
    org = StaffedOrg(cli, server, db_url, created["fingerprint"], recipient_type)
    org.totp_secrets[ADMIN] = created["totp_secret"]
    org.recovery_shares = list(created.get("recovery_shares") or [])
    org.login(ADMIN)
    enroll = ["enroll", "--server", server.base_url, "--org", org.fingerprint, "--dev"]
    for user, role in {**STAFF_ROLES, **(extra_staff or {})}.items():
        code = cli.json("user", "add", user, "--role", role, home=ADMIN)["enrolment_code"]
        enrolled = cli.json(*enroll, "--user", user, "--code", code, home=user,
                            TVAULT_PASSWORD=password_of(user))  # fmt: skip
        org.totp_secrets[user] = enrolled["totp_secret"]
    cli.json("roster", "publish", "--yes", home=ADMIN)
    for user in org.totp_secrets:
        if user != ADMIN:
            org.login(user)
    return org


@pytest.fixture
def staffed(served: tuple[RunningServer, str], tmp_path: Path) -> StaffedOrg:
    """`set_up_staff` on the `served` server: a post-quantum org, no recovery recipient."""
    server, db_url = served
    return set_up_staff(Cli(tmp_path, server.base_url), server, db_url)


def korean_report(path: Path, cli: Cli, **changes: Any) -> Path:
    """`tvault report template --lang ko`, with the top-level fields in `changes` replaced,
    written to `path`."""
    template = json.loads(cli.run("report", "template", "--lang", "ko", home="template").stdout)
    template.update(changes)
    path.write_text(json.dumps(template, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def age_identity(home: Path) -> str:
    """The `AGE-SECRET-KEY-…` identity in the identity file of `home` (its passphrase is
    `PASSPHRASE`), for opening an `--age-file` with stock age tools."""
    with (home / IDENTITY_FILE).open("rb") as source:
        key = identity.load(source, passphrase=PASSPHRASE)
    assert key.age_identity is not None, f"{home} holds a signing-only identity"
    return key.age_identity


@contextmanager
def public_roster_swapped(org: StaffedOrg) -> Iterator[None]:
    """As a malicious server, for the length of the block: the newest public roster has
    its first intake recipient swapped for a key of the server's own (same type); the
    original row is put back afterwards."""
    select = "SELECT version, signed_public_roster FROM roster_version ORDER BY version DESC"
    update = "UPDATE roster_version SET signed_public_roster = :r WHERE version = :v"
    engine = org.database()
    try:
        with engine.begin() as connection:
            version, signed = connection.execute(sa.text(select + " LIMIT 1")).one()
            signed = bytes(signed)
            intake = re.search(rb"age1[0-9a-z]+", signed)
            assert intake is not None, "no recipient in the public roster"
            kind: Any = org.recipient_type
            ours = age.recipient_of(age.generate_identity(kind)).encode()
            forged = signed.replace(intake.group(), ours)
            connection.execute(sa.text(update), {"r": forged, "v": version})
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(update), {"r": signed, "v": version})
        engine.dispose()
