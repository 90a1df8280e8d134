"""Canaries: no password, TOTP secret, session token, enrolment secret or private key is
stored or logged in the clear, on SQLite and on PostgreSQL; nor, after a submission, its
fetch, a reply and the source's lookup, any report text, attachment file name, reply,
codename (whole, or any two of its words in a row) or client address.

The real CLI sets the org up against `tvault serve` with distinctive secrets; then the raw
database (SQLite: the database, WAL and shared-memory files byte by byte; PostgreSQL: a
`pg_dump` of the test database) and everything the server printed are searched for each
secret in every form it could take (text, raw bytes, hex, base64, base32).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
import unicodedata
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from client.home import IDENTITY_FILE, ORG_KEY_FILE
from crypto import identity
from tests.api.conftest import RunningServer
from tests.e2e.support import (
    INTAKE,
    PASSPHRASE,
    SOURCE,
    Cli,
    StaffedOrg,
    _totp,
    bootstrap_code,
    korean_report,
)


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


def _files_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())


def _text_forms(text: str) -> list[bytes]:
    """`text` as UTF-8 (composed and decomposed), JSON-escaped, and in the forms of `_forms`."""
    encoded = text.encode()
    escaped = json.dumps(text)[1:-1].encode()  # \uXXXX for every Hangul syllable
    decomposed = unicodedata.normalize("NFD", text).encode()
    return [*_forms(encoded), escaped, decomposed]


def _codename_forms(codename: str) -> list[bytes]:
    """The codename whole, however its words are joined, and every two words in a row."""
    words = codename.split()
    forms = [form for sep in (" ", "-", "", "\n", ",") for form in _text_forms(sep.join(words))]
    for first, second in itertools.pairwise(words):
        forms += _text_forms(f"{first} {second}") + _text_forms(first + second)
    return forms


# A submission, a fetch, a reply and a lookup, each many CLI runs on a loaded machine.
@pytest.mark.timeout(600)
def test_no_report_text_file_name_codename_or_address_is_stored_or_logged(
    staffed: StaffedOrg,
) -> None:
    org, cli = staffed, staffed.cli
    tag = uuid.uuid4().hex[:12]
    narrative = f"canary-narrative-{tag}: 제 동생은 작년 겨울 국경에서 붙잡혔습니다. {tag}"
    name = "황보카나리"
    hometown = f"canary-hometown-{tag} 양강도 혜산시"
    file_name = f"canary-file-{tag} 증거 사진.jpg"
    reply = f"canary-reply-{tag}: 잘 받았습니다."
    files = org.tmp_path / "source-files"
    files.mkdir()
    (files / file_name).write_bytes(b"the photo's bytes are sealed; its name is the canary")
    template = json.loads(cli.run("report", "template", "--lang", "ko", home="template").stdout)
    detainee = {**template["detainee"], "name_hangul": name, "hometown": hometown}
    report = korean_report(files / "report.json", cli, narrative=narrative, detainee=detainee)

    submitted = org.submit(report, files / file_name)
    record, codename = submitted["record_id"], submitted["codename"]
    opened = cli.json("open", record, "--out", str(org.tmp_path / "opened"), home=INTAKE)
    assert file_name in {Path(path).name for path in opened["files"].values()}
    cli.json("reply", record, "--message", reply, home=INTAKE)
    assert [r["message"] for r in org.replies(codename)["replies"]] == [reply]

    log = org.server.stop().encode()  # stopped, so SQLite's files are all written out
    database = _database_bytes(org.db_url)
    data_dir = _files_bytes(org.tmp_path / "data")
    source_home = _files_bytes(org.tmp_path / SOURCE)  # the source's device
    canaries: dict[str, list[bytes]] = {
        "report text": _text_forms(narrative) + _text_forms(tag),
        "detainee's name": _text_forms(name),
        "hometown": _text_forms(hometown),
        "attachment file name": _text_forms(file_name) + _text_forms(Path(file_name).stem),
        "reply text": _text_forms(reply),
        "codename": _codename_forms(codename),
        "client address": _text_forms("127.0.0.1"),
    }

    # The search sees the data: what is meant to be stored is found.
    assert record.encode() in database
    found = [
        f"{what} in the {place}"
        for what, forms in canaries.items()
        for place, haystack in (
            ("database", database),
            ("data directory", data_dir),
            ("server's output", log),
            ("source's home", source_home),
        )
        if any(form in haystack for form in forms)
    ]
    assert not found
    assert re.search(rb"(?<![0-9A-Fa-f:])::1(?![0-9A-Fa-f:])", log) is None  # IPv6 loopback
    assert b"canary" not in database.lower() + data_dir.lower() + log.lower()
