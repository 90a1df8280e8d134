"""Bad input is an RFC 9457 problem and writes nothing half-way, on SQLite and PostgreSQL.

Each case snapshots every table of the vault (all rows, all columns) before and after the
refused request. Nothing may change, except that a failed login appends exactly its one
`login.failed` entry to the audit log, as DESIGN.md section 4 asks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.api.test_accounts_routes import PASSWORD, Vault, _problem, _signed_rosters, vault
from tests.db import db_settings, db_url, engine, postgresql, sqlite_template  # noqa: F401
from vault import audit
from vault.accounts.codes import today
from vault.db import session_scope
from vault.models import metadata

__all__ = ["vault"]  # the fixture, imported for this module's tests

LOG_TABLES = frozenset({"log_entry", "log_node", "checkpoint"})


def _store(vault: Vault) -> Engine:
    found = vault.client.app.state.engine  # type: ignore[attr-defined]
    assert isinstance(found, Engine)
    return found


def _snapshot(vault: Vault) -> dict[str, list[tuple[Any, ...]]]:
    with _store(vault).connect() as connection:
        return {
            table.name: sorted(
                (tuple(row) for row in connection.execute(sa.select(table))), key=repr
            )
            for table in metadata.sorted_tables
        }


class Ready:
    """A vault with an org, an admin, a caseworker, roster version 1 and one unused code."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        assert vault.register().status_code == 201
        body = vault.enrol_body("cw", vault.add("cw", "caseworker"))
        assert vault.client.post("/v1/enrol", json=body).status_code == 201
        self.cw_secret = body["totp_secret"]
        self.used_enrolment = body
        self.unused_enrolment = vault.enrol_body("kim", vault.add("kim", "intake"))
        admin = vault.as_("admin")
        rosters = _signed_rosters(vault.client, 1)
        assert vault.client.post("/v1/admin/roster", json=rosters, headers=admin).is_success
        self.roster_v1 = rosters
        # A login by cw at this step, so its code is spent.
        self.spent_code = pyotp.TOTP(self.cw_secret).now()
        login = {"username": "cw", "password": PASSWORD, "totp_code": self.spent_code}
        assert vault.client.post("/v1/auth/login", json=login).status_code == 200

    def post(self, path: str, body: Any, *, admin: bool = False) -> Any:
        headers = self.vault.as_("admin") if admin else {}
        return self.vault.client.post(path, json=body, headers=headers)


def _expire_codes(ready: Ready) -> None:
    with session_scope(_store(ready.vault)) as session:
        session.connection().execute(
            sa.text("UPDATE enrolment_code SET expires_on = :day"),
            {"day": today() - timedelta(days=1)},
        )


Case = tuple[Callable[[Ready], None] | None, Callable[[Ready], Any], int, str, bool]
CASES: dict[str, Case] = {
    # name: (prepare, request, status, words the detail must hold, logs a failed login)
    "wrong-bootstrap-code": (
        None,
        lambda r: r.vault.register(bootstrap_code="WRONG-CODE"),
        403,
        "bootstrap code",
        False,
    ),
    "reused-bootstrap-code": (None, lambda r: r.vault.register(), 403, "bootstrap code", False),
    "used-enrolment-code": (
        None,
        lambda r: r.post("/v1/enrol", r.used_enrolment),
        403,
        "used or expired",
        False,
    ),
    "expired-enrolment-code": (
        _expire_codes,
        lambda r: r.post("/v1/enrol", r.unused_enrolment),
        403,
        "used or expired",
        False,
    ),
    "weak-password": (
        None,
        lambda r: r.post("/v1/enrol", {**r.unused_enrolment, "password": "short"}),
        422,
        "at least 12 characters",
        False,
    ),
    "wrong-totp-at-enrolment": (
        None,
        lambda r: r.post("/v1/enrol", {**r.unused_enrolment, "totp_code": "000000"}),
        422,
        "TOTP code",
        False,
    ),
    "wrong-totp-at-login": (
        None,
        lambda r: r.post(
            "/v1/auth/login", {"username": "cw", "password": PASSWORD, "totp_code": "000000"}
        ),
        401,
        "wrong username, password or TOTP code",
        True,
    ),
    "replayed-totp": (
        None,
        lambda r: r.post(
            "/v1/auth/login", {"username": "cw", "password": PASSWORD, "totp_code": r.spent_code}
        ),
        401,
        "wrong username, password or TOTP code",
        True,
    ),
    "tampered-roster": (
        None,
        lambda r: r.post(
            "/v1/admin/roster",
            {
                **_signed_rosters(r.vault.client, 2),
                "public": _signed_rosters(r.vault.client, 2)["public"].replace("pq", "x2"),
            },
            admin=True,
        ),
        422,
        "did not sign",
        False,
    ),
    "rolled-back-roster": (
        None,
        lambda r: r.post("/v1/admin/roster", r.roster_v1, admin=True),
        409,
        "next roster version is 2",
        False,
    ),
    "expired-roster": (
        None,
        lambda r: r.post(
            "/v1/admin/roster",
            _signed_rosters(r.vault.client, 2, expires=(today() - timedelta(days=1)).isoformat()),
            admin=True,
        ),
        422,
        "expired",
        False,
    ),
    "oversized-body": (
        None,
        lambda r: r.vault.client.post("/v1/enrol", content=b"{" + b" " * (2 << 20) + b"}"),
        413,
        "",
        False,
    ),
    "malformed-body": (
        None,
        lambda r: r.vault.client.post(
            "/v1/enrol", content=b'{"code_id": ', headers={"Content-Type": "application/json"}
        ),
        422,
        "not valid",
        False,
    ),
    "unknown-field": (
        None,
        lambda r: r.post("/v1/enrol", {**r.unused_enrolment, "role": "admin"}),
        422,
        "not valid",
        False,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_a_problem_and_writes_nothing(vault: Vault, case: str) -> None:
    prepare, request, status, says, logs_failure = CASES[case]
    ready = Ready(vault)
    if prepare is not None:
        prepare(ready)
    before = _snapshot(vault)
    body = _problem(request(ready), status)
    assert says in body.get("detail", ""), body
    after = _snapshot(vault)
    for name in before:
        if logs_failure and name in LOG_TABLES:
            continue
        assert after[name] == before[name], f"{case} changed table {name}"
    if logs_failure:
        assert len(after["log_entry"]) == len(before["log_entry"]) + 1
        with session_scope(_store(vault), readonly=True) as session:
            size = audit.tree_size(session)
            (entry,) = audit.entries(session, start=size - 1, end=size)
        assert audit.decode_event(entry).action is audit.Action.LOGIN_FAILED
    else:
        for name in LOG_TABLES:
            assert after[name] == before[name], f"{case} changed table {name}"
