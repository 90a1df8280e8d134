"""`tvault org rotate-key` end to end, on SQLite and on PostgreSQL.

The admin rotates the org key; a caseworker pinned to the old key follows the signed
statement and re-pins; a brand-new client given only the old fingerprint follows it too;
the next roster is signed by the new key. Then a (simulated) malicious server presents a
key of its own, announced in a statement the pinned key never signed, and is refused.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from crypto import note, roster, rotation
from crypto.roster import ORG_KEY_NAME, canonical_json
from tests.api.conftest import RunningServer
from tests.e2e.support import Cli, _totp, bootstrap_code

PASSWORD = "rotation password 0b7e"


def _forged_statement(serial: int, old_key: bytes, attacker: note.Signer) -> str:
    """A statement claiming `old_key` handed over to `attacker`, signed by the attacker only."""
    new_key = attacker.verifier.public_key
    document = {
        "type": rotation.ROTATION_TYPE,
        "serial": serial,
        "old_key": base64.b64encode(old_key).decode(),
        "new_key": base64.b64encode(new_key).decode(),
        "old_fingerprint": roster.fingerprint(old_key),
        "new_fingerprint": roster.fingerprint(new_key),
        "issued": date.today().isoformat(),
    }
    text = canonical_json(document).decode() + "\n"
    return note.sign_note(text, [attacker]).decode()


# One long story of many CLI runs: on a loaded machine it outlasts the default 120 s.
@pytest.mark.timeout(300)
def test_clients_follow_a_rotation_and_refuse_a_forged_one(
    served: tuple[RunningServer, str], tmp_path: Path
) -> None:
    server, db_url = served
    cli = Cli(tmp_path, server.base_url)
    code = bootstrap_code(server)
    env = {"TVAULT_PASSWORD": PASSWORD}
    created = cli.json(
        "org", "init", "--server", server.base_url, "--dev", "--org-name", "Org",
        "--admin", "root", "--bootstrap-code", code, home="admin", **env,
    )  # fmt: skip
    old_fingerprint = created["fingerprint"]
    login = ["login", "--server", server.base_url, "--org", old_fingerprint]
    cli.run(*login, "--user", "root", home="admin", TVAULT_TOTP=_totp(created["totp_secret"], 0),
            **env)  # fmt: skip
    secrets = {}
    for user, role in [("cw1", "caseworker"), ("au1", "auditor")]:
        code = cli.json("user", "add", user, "--role", role, home="admin")["enrolment_code"]
        secrets[user] = cli.json(
            "enroll", "--server", server.base_url, "--org", old_fingerprint, "--user", user,
            "--code", code, "--dev", home=user, **env,
        )["totp_secret"]  # fmt: skip
    assert cli.json("roster", "publish", "--yes", home="admin") == {"version": 1}
    cli.run(*login, "--user", "cw1", home="cw1", TVAULT_TOTP=_totp(secrets["cw1"], 0), **env)

    rotated = cli.json("org", "rotate-key", "--yes", "--dev", home="admin")
    assert rotated["serial"] == 1
    assert rotated["old_fingerprint"] == old_fingerprint
    new_fingerprint = rotated["fingerprint"]
    assert new_fingerprint != old_fingerprint
    assert rotated["roster_version"] == 2
    assert (tmp_path / "admin" / "org-key.1.old.age").exists()
    assert httpx.get(f"{server.base_url}/v1/org").json()["fingerprint"] == new_fingerprint

    # The caseworker, pinned to the old key, follows the statement and re-pins.
    session = cli.json(*login, "--user", "cw1", home="cw1",
                       TVAULT_TOTP=_totp(secrets["cw1"], 1), **env)  # fmt: skip
    assert session["roster_version"] == 2
    state = json.loads((tmp_path / "cw1" / "state.json").read_text())
    assert state["org"]["fingerprint"] == new_fingerprint
    # A new client given only the old fingerprint (on paper, say) follows it as well.
    cli.json(*login, "--user", "au1", home="au1-fresh",
             TVAULT_TOTP=_totp(secrets["au1"], 0), **env)  # fmt: skip

    # A malicious server swaps in a key of its own, announced by a forged statement.
    attacker = note.Signer.generate(ORG_KEY_NAME)
    new_key = base64.b64decode(state["org"]["public_key"])
    forged = _forged_statement(2, new_key, attacker)
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO org_key_rotation (serial, old_public_key, new_public_key, "
                    "statement, created_on) VALUES (2, :old, :new, :statement, :day)"
                ),
                {
                    "old": new_key,
                    "new": attacker.verifier.public_key,
                    "statement": forged.encode(),
                    "day": date.today(),
                },
            )
            connection.execute(
                sa.text("UPDATE org SET public_key = :key, fingerprint = :fingerprint"),
                {
                    "key": attacker.verifier.public_key,
                    "fingerprint": roster.fingerprint(attacker.verifier.public_key),
                },
            )
    finally:
        engine.dispose()
    refused = cli.fails(*login, "--user", "cw1", home="cw1", TVAULT_TOTP="000000", **env)
    assert "not signed by the org key" in refused.stderr
    assert new_fingerprint in refused.stderr
    # Nor does a client that pinned the old key accept the chain that ends there.
    refused = cli.fails(*login, "--user", "au1", home="au1", TVAULT_TOTP="000000", **env)
    assert "not signed by the org key" in refused.stderr
