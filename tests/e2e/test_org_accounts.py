"""The real `tvault` CLI against a real `tvault serve`, on SQLite and on PostgreSQL.

One story, as an org would live it: first start, org init, users of every role, their
enrolment, a roster, logins and logouts, a disabled user refused, and a key swapped by a
(simulated) malicious server caught at `roster publish`.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from client.recovery import recover
from crypto import age
from tests.api.conftest import RunningServer

# The helpers moved to tests/e2e/support.py; still importable from here for a while.
from tests.e2e.support import ADMIN_PASSWORD, CODE, PASSPHRASE, Cli, _totp, bootstrap_code, served

__all__ = ["ADMIN_PASSWORD", "CODE", "PASSPHRASE", "Cli", "_totp", "bootstrap_code", "served"]


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
