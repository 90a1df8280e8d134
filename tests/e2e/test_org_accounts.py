"""The real `tvault` CLI against a real `tvault serve`, on SQLite and on PostgreSQL.

One story, as an org would live it: first start, org init, users of every role, their
enrolment, a roster, logins and logouts, a disabled user refused, and a key swapped by a
(simulated) malicious server caught at `roster publish`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import sqlalchemy as sa

from client.recovery import recover
from crypto import age
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


def _totp(secret: str, step_offset: int) -> str:
    return str(pyotp.TOTP(secret).at(time.time() + 30 * step_offset))


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[tuple[RunningServer, str]]:
    port = free_port()
    output = tmp_path / "server.log"
    env = {**os.environ, "TVAULT_DATABASE_URL": db_url, "TVAULT_KDF_PROFILE": "test"}
    args = [str(TVAULT), "serve", "--dev", "--data-dir", str(tmp_path / "data")]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*args, "--host", "localhost", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    running = RunningServer(process, f"http://localhost:{port}", output)
    deadline = time.monotonic() + 60
    while CODE.search(output.read_text()) is None or "startup complete" not in output.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            running.stop()
            pytest.fail(f"tvault serve did not start:\n{output.read_text()}")
        time.sleep(0.05)
    yield running, db_url
    running.stop()


# One long story of many CLI runs: on a loaded machine it outlasts the default 120 s.
@pytest.mark.timeout(300)
def test_an_org_from_first_start_to_a_refused_swap(
    served: tuple[RunningServer, str], tmp_path: Path
) -> None:
    server, db_url = served
    cli = Cli(tmp_path, server.base_url)
    bootstrap = bootstrap_code(server)
    admin_env = {"TVAULT_PASSWORD": ADMIN_PASSWORD}
    init = ["org", "init", "--server", server.base_url, "--dev"]
    init += ["--org-name", "Test Org", "--admin", "root"]
    init += ["--recovery-threshold", "2", "--recovery-shares", "3"]
    cli.fails(*init, "--bootstrap-code", "WRONG-CODE", home="bad", **admin_env)
    created = cli.json(*init, "--bootstrap-code", bootstrap, home="admin", **admin_env)
    org, admin_totp = created["fingerprint"], created["totp_secret"]
    # Two of the three trustees' shares rebuild the recovery identity the org names.
    policy = httpx.get(f"{server.base_url}/v1/org").json()["policy"]
    rebuilt = recover("pq", created["recovery_shares"][1:])
    assert age.recipient_of(rebuilt) == policy["recovery_recipient"]
    assert re.fullmatch(r"([A-Z2-7]{4}-){7}[A-Z2-7]{4}", org)
    cli.fails(*init, "--bootstrap-code", bootstrap, home="again", **admin_env)

    login = ["login", "--server", server.base_url, "--org", org]
    cli.run(*login, "--user", "root", home="admin", TVAULT_TOTP=_totp(admin_totp, 0), **admin_env)

    secrets: dict[str, str] = {}
    for user, role in [
        ("in1", "intake"),
        ("cw1", "caseworker"),
        ("au1", "auditor"),
        ("ad2", "admin"),
        ("mallory", "caseworker"),
    ]:
        code = cli.json("user", "add", user, "--role", role, home="admin")["enrolment_code"]
        enroll = ["enroll", "--server", server.base_url, "--org", org, "--user", user]
        enrolled = cli.json(
            *enroll, "--code", code, "--dev", home=user, TVAULT_PASSWORD=f"password of {role}!"
        )
        secrets[user] = enrolled["totp_secret"]
        assert (enrolled["recipient"] is not None) == (role in ("intake", "caseworker"))
        assert code.split("-")[2] not in (tmp_path / "server.log").read_text()
        # A used code is refused.
        cli.fails(*enroll, "--code", code, "--dev", home=f"{user}-again",
                TVAULT_PASSWORD=f"password of {role}!")  # fmt: skip

    # A malicious server swaps mallory's verify key after enrolment.
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE enrolled_key SET verify_key = :key WHERE account_id = "
                    "(SELECT id FROM account WHERE username = 'mallory')"
                ),
                {"key": bytes(range(32))},
            )
    finally:
        engine.dispose()
    refused = cli.fails("roster", "publish", "--yes", home="admin")
    assert "swapped" in refused.stderr
    cli.run("user", "disable", "mallory", home="admin")
    published = cli.json("roster", "publish", "--yes", home="admin")
    assert published == {"version": 1}

    # Every role logs in, sees the staff roster, and logs out.
    used: dict[str, str] = {}
    for user in ("in1", "cw1", "au1", "ad2"):
        password = {"in1": "intake", "cw1": "caseworker", "au1": "auditor", "ad2": "admin"}[user]
        used[user] = _totp(secrets[user], 0)
        session = cli.json(
            *login, "--user", user, home=user,
            TVAULT_PASSWORD=f"password of {password}!", TVAULT_TOTP=used[user],
        )  # fmt: skip
        assert session["roster_version"] == 1
        assert cli.json("logout", home=user) == {"logged_out": True}
    # A replayed TOTP code is refused; so is a disabled user.
    in1 = {"TVAULT_PASSWORD": "password of intake!", "TVAULT_TOTP": used["in1"]}
    cli.fails(*login, "--user", "in1", home="in1", **in1)
    mallory = {"TVAULT_PASSWORD": "password of caseworker!"}
    mallory["TVAULT_TOTP"] = _totp(secrets["mallory"], 1)
    cli.fails(*login, "--user", "mallory", home="mallory", **mallory)
    # A client given another org's fingerprint refuses this server.
    other = "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA"
    cli.fails("login", "--server", server.base_url, "--org", other, "--user", "in1",
            home="fresh", TVAULT_PASSWORD="x", TVAULT_TOTP="000000")  # fmt: skip

    log = server.stop()
    for canary in (ADMIN_PASSWORD, PASSPHRASE, admin_totp, *secrets.values()):
        assert canary not in log
