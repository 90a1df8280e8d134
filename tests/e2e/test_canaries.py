"""Canaries: no password, TOTP secret, session token, enrolment secret or private key is
stored or logged in the clear, on SQLite and on PostgreSQL.

The real CLI sets the org up against `tvault serve` with distinctive secrets; then the raw
database (SQLite: the database, WAL and shared-memory files byte by byte; PostgreSQL: a
`pg_dump` of the test database) and everything the server printed are searched for each
secret in every form it could take (text, raw bytes, hex, base64, base32).
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from client.home import IDENTITY_FILE, ORG_KEY_FILE
from crypto import identity
from tests.api.conftest import RunningServer
from tests.e2e.support import PASSPHRASE, Cli, _totp, bootstrap_code


def _forms(secret: bytes) -> list[bytes]:
    """`secret` as the bytes themselves and as hex, base64, base64url and base32 text."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
        base64.b32encode(secret).rstrip(b"="),
    ]


def _load(path: Path, passphrase: str) -> identity.DeviceIdentity:
    with path.open("rb") as source:
        return identity.load(source, passphrase=passphrase)


def _database_bytes(db_url: str) -> bytes:
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        files = sorted(Path(url.database).parent.glob(Path(url.database).name + "*"))
        assert files, "no database file to search"
        return b"".join(path.read_bytes() for path in files)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--data-only", plain],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert b"COPY public.account" in dump
    return dump


# One long story of many CLI runs: on a loaded machine it outlasts the default 120 s.
@pytest.mark.timeout(300)
def test_no_secret_reaches_the_database_or_the_log(
    served: tuple[RunningServer, str], tmp_path: Path
) -> None:
    server, db_url = served
    cli = Cli(tmp_path, server.base_url)
    code = bootstrap_code(server)
    tag = uuid.uuid4().hex[:12]
    admin_password = f"canary-admin-password-{tag}"
    staff_password = f"canary-staff-password-{tag}"
    passphrase_env = {"TVAULT_PASSPHRASE": f"canary-passphrase-{tag}"}

    init = ["org", "init", "--server", server.base_url, "--dev", "--org-name", "Test Org"]
    created = cli.json(
        *init, "--admin", "root", "--bootstrap-code", code, home="admin",
        TVAULT_PASSWORD=admin_password, **passphrase_env,
    )  # fmt: skip
    org = created["fingerprint"]
    login = ["login", "--server", server.base_url, "--org", org]
    cli.run(*login, "--user", "root", home="admin", TVAULT_PASSWORD=admin_password,
            TVAULT_TOTP=_totp(created["totp_secret"], 0))  # fmt: skip
    totp_secrets = [created["totp_secret"]]
    codes = []
    for user, role in [("cw1", "caseworker"), ("au1", "auditor")]:
        code = cli.json("user", "add", user, "--role", role, home="admin")["enrolment_code"]
        codes.append(code)
        enrolled = cli.json(
            "enroll", "--server", server.base_url, "--org", org, "--user", user, "--code", code,
            "--dev", home=user, TVAULT_PASSWORD=staff_password, **passphrase_env,
        )  # fmt: skip
        totp_secrets.append(enrolled["totp_secret"])
    cli.json("roster", "publish", "--yes", home="admin", **passphrase_env)
    cli.run(*login, "--user", "cw1", home="cw1", TVAULT_PASSWORD=staff_password,
            TVAULT_TOTP=_totp(totp_secrets[1], 0))  # fmt: skip
    tokens = [(tmp_path / home / "session").read_text().strip() for home in ("admin", "cw1")]
    log = server.stop().encode()  # stopped, so SQLite's files are all written out
    database = _database_bytes(db_url)

    keys = {
        name: _load(tmp_path / home / file, passphrase_env["TVAULT_PASSPHRASE"])
        for name, home, file in [
            ("org key", "admin", ORG_KEY_FILE),
            ("caseworker identity", "cw1", IDENTITY_FILE),
            ("auditor identity", "au1", IDENTITY_FILE),
        ]
    }
    canaries: dict[str, list[bytes]] = {
        "admin password": [admin_password.encode()],
        "staff password": [staff_password.encode()],
        "identity passphrase": [passphrase_env["TVAULT_PASSPHRASE"].encode(), PASSPHRASE.encode()],
    }
    for i, secret in enumerate(totp_secrets):
        canaries[f"TOTP secret {i}"] = [secret.encode(), *_forms(base64.b32decode(secret))]
    for i, token in enumerate(tokens):
        body = token.removeprefix("tvs1_")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        canaries[f"session token {i}"] = [token.encode(), body.encode(), *_forms(raw[:32])]
    for i, code in enumerate(codes):
        canaries[f"enrolment code secret half {i}"] = [code.split("-")[-1].encode()]
    for name, key in keys.items():
        canaries[name] = _forms(key.signing_key.private_bytes_raw())
        if key.age_identity is not None:
            canaries[f"{name} (age)"] = [key.age_identity.encode()]

    # The search sees the data: what is meant to be stored in the clear is found.
    assert b"root" in database
    assert b"cw1" in database
    found = [
        f"{name} in the {place}"
        for name, forms in canaries.items()
        for place, haystack in (("database", database), ("server's output", log))
        if any(form in haystack for form in forms)
    ]
    assert not found
    assert b"canary" not in database.lower() + log.lower()  # no canary of any kind
