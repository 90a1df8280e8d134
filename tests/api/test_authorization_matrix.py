"""Every route of the org, auth, enrol, admin, records and cases groups, for every caller:
anonymous, each role, a disabled user, an expired and a revoked session (DESIGN.md
section 1).

Expected: 401 (with WWW-Authenticate) where a session is needed and none is valid, 403
where the session's role may not act, the route's own answer otherwise. Each refusal is
accounted for as DESIGN.md section 4 asks: a logged-in account's 403 appends a `refused`
entry naming it; a caller without a valid session names no one, so its 401 is counted, and
the count logged per interval (`vault.accounts.refusals`). Records and cases are for
intake and caseworker accounts only: an admin's or auditor's 403 is a `refused` entry
(`records-not-a-recipient`). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from crypto import age, note, rotation
from crypto.roster import ORG_KEY_NAME
from tests.api.test_accounts_routes import (
    ORG_KEY,
    PASSWORD,
    Vault,
    _problem,
    _signed_rosters,
    vault,
)
from tests.db import db_settings, db_url, engine, postgresql, sqlite_template  # noqa: F401
from tests.vault.records.support import seed_record
from vault import audit
from vault.accounts import refusals, sessions
from vault.accounts.codes import today
from vault.accounts.service import ADMIN_ONLY
from vault.db import session_scope
from vault.models import Account, EnrolledKey
from vault.records import NOT_A_RECIPIENT

__all__ = ["vault"]  # the fixture, imported for this module's tests

ROLES = ("admin", "intake", "caseworker", "auditor")
DEAD = ("disabled", "expired", "revoked")
CALLERS = (None, *ROLES, *DEAD)


def _enrolled(vault: Vault, username: str, role: str) -> str:
    """Add, enrol and log in `username` as `role`; return the session token."""
    body = vault.enrol_body(username, vault.add(username, role))
    assert vault.client.post("/v1/enrol", json=body).status_code == 201
    return vault.login(username, body["totp_secret"])


@pytest.fixture
def callers(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> Vault:
    """A vault with a live session for each role and a dead one for each way to lose one."""
    assert vault.register().status_code == 201
    for role in ("intake", "caseworker", "auditor"):
        vault.tokens[role] = _enrolled(vault, f"{role}-user", role)
    vault.tokens["disabled"] = _enrolled(vault, "disabled-user", "caseworker")
    vault.tokens["revoked"] = _enrolled(vault, "revoked-user", "intake")
    admin = vault.as_("admin")
    assert vault.client.post("/v1/admin/users/disabled-user/disable", headers=admin).is_success
    assert vault.client.post("/v1/auth/logout", headers=vault.as_("revoked")).status_code == 204
    # Expired: a session whose end has passed, as if issued 12 hours and a minute ago.
    with monkeypatch.context() as patch, session_scope(_engine(vault)) as session:
        patch.setattr(sessions, "LIFETIME", timedelta(minutes=-1))
        account = session.exec(select(Account).where(Account.username == "auditor-user")).one()
        assert account.id is not None
        vault.tokens["expired"], _ = sessions.issue(session, account_id=account.id)
    return vault


Expect = Callable[[str | None], int]


def session_needed(allowed: int) -> Expect:
    """401 without a valid session, `allowed` for any live one."""
    return lambda caller: 401 if caller is None or caller in DEAD else allowed


def admins_only(allowed: int) -> Expect:
    """401 without a valid session, 403 for a live non-admin, `allowed` for an admin."""
    return lambda caller: (
        401 if caller is None or caller in DEAD else allowed if caller == "admin" else 403
    )


def optional_session(allowed: int) -> Expect:
    """Anyone, but a session sent must be valid."""
    return lambda caller: 401 if caller in DEAD else allowed


def anyone(status: int) -> Expect:
    """The route reads no session: a code or credentials in the body decide."""
    return lambda caller: status


NEW_ORG_KEY = note.Signer.generate(ORG_KEY_NAME)
SECRET = "A" * 32
# Valid but for the code, so the code alone decides.
WRONG_CODE = {"code_id": "AAAAA", "server_half": "B" * 26, "username": "nobody"}
# Each route: a request a caller of that kind might send, and what each caller must get.
ROUTES: dict[str, tuple[str, str, Callable[[Vault, str], Any], Expect]] = {
    "org-read": ("GET", "/v1/org", lambda v, c: None, optional_session(200)),
    # The bootstrap code, not a session, authorises registration; it is used up.
    "org-register": (
        "POST",
        "/v1/org",
        lambda v, c: {
            "bootstrap_code": v.bootstrap_code,
            "name": "Org",
            "public_key": "A" * 43 + "=",
            "admin": {
                "username": "other",
                "password": PASSWORD,
                "totp_secret": SECRET,
                "totp_code": pyotp.TOTP(SECRET).now(),
            },
        },
        anyone(403),
    ),
    "login": (
        "POST",
        "/v1/auth/login",
        # A username per caller, so back-off (429) never stands in for the answer.
        lambda v, c: {"username": f"nobody-{c}", "password": PASSWORD, "totp_code": "000000"},
        anyone(401),
    ),
    "logout": ("POST", "/v1/auth/logout", lambda v, c: None, session_needed(204)),
    "enrol": (
        "POST",
        "/v1/enrol",
        lambda v, c: {
            **WRONG_CODE,
            "password": PASSWORD,
            "totp_secret": SECRET,
            "totp_code": pyotp.TOTP(SECRET).now(),
            "recipient": None,
            "verify_key": "A" * 43 + "=",
            "mac": "A" * 43 + "=",
        },
        anyone(403),
    ),
    "enrol-lookup": ("POST", "/v1/enrol/lookup", lambda v, c: WRONG_CODE, anyone(403)),
    "add-user": (
        "POST",
        "/v1/admin/users",
        lambda v, c: {"username": "new-user", "role": "intake"},
        admins_only(201),
    ),
    "disable-user": (
        "POST",
        "/v1/admin/users/caseworker-user/disable",
        lambda v, c: None,
        admins_only(204),
    ),
    "members": ("GET", "/v1/admin/members", lambda v, c: None, admins_only(200)),
    # Public, as the org key is: no session is read, so a dead one changes nothing.
    "rotations": ("GET", "/v1/org/rotations", lambda v, c: None, anyone(200)),
    "rotate-key": (
        "POST",
        "/v1/admin/org/rotations",
        lambda v, c: {
            "statement": rotation.sign_rotation(
                serial=1, old=ORG_KEY, new=NEW_ORG_KEY, issued=today()
            ).decode()
        },
        admins_only(201),
    ),
    "publish-roster": (
        "POST",
        "/v1/admin/roster",
        lambda v, c: _signed_rosters(v.client, 1),
        admins_only(201),
    ),
}


def _engine(vault: Vault) -> Engine:
    found = vault.client.app.state.engine  # type: ignore[attr-defined]
    assert isinstance(found, Engine)
    return found


def _log_size(vault: Vault) -> int:
    with session_scope(_engine(vault), readonly=True) as session:
        return audit.tree_size(session)


def _last_entry(vault: Vault) -> audit.Event:
    with session_scope(_engine(vault), readonly=True) as session:
        size = audit.tree_size(session)
        (entry,) = audit.entries(session, start=size - 1, end=size)
    return audit.decode_event(entry)


def _ids(vault: Vault) -> dict[str, str]:
    members = vault.client.get("/v1/admin/members", headers=vault.as_("admin")).json()
    return {m["username"]: m["id"] for m in members}


@pytest.mark.parametrize("route", ROUTES)
def test_every_caller_gets_exactly_what_its_role_allows(callers: Vault, route: str) -> None:
    method, path, body, expect = ROUTES[route]
    ids = _ids(callers)
    counter = callers.client.app.state.accounts.refusals  # type: ignore[attr-defined]
    # The admin goes last, so what an allowed call changes cannot decide another caller's.
    for caller in sorted(CALLERS, key=lambda c: c == "admin"):
        headers = {} if caller is None else {"Authorization": f"Bearer {callers.tokens[caller]}"}
        size, counted = _log_size(callers), sum(counter.pending().values())
        response = callers.client.request(
            method, path, json=body(callers, str(caller)), headers=headers
        )
        status = expect(caller)
        where = f"{route} as {caller or 'anonymous'}"
        if status >= 400:
            _problem(response, status)
        else:
            assert response.status_code == status, f"{where}: {response.text}"
        if status == 401 and route != "login":
            assert response.headers["www-authenticate"] == "Bearer", where
            assert _log_size(callers) == size, f"{where}: an anonymous refusal was logged"
            assert sum(counter.pending().values()) == counted + 1, f"{where}: not counted"
        if status == 403 and path.startswith("/v1/admin/"):
            assert _log_size(callers) == size + 1, f"{where}: the refusal was not logged"
            refused = _last_entry(callers)
            assert refused.action is audit.Action.REFUSED
            assert refused.reason == ADMIN_ONLY
            assert refused.actor == ids["root" if caller == "admin" else f"{caller}-user"]
        if route in ("org-register", "enrol", "enrol-lookup"):
            assert _log_size(callers) == size, f"{where}: a code refusal was logged"
            assert sum(counter.pending().values()) == counted + 1, f"{where}: not counted"


def test_anonymous_refusals_are_logged_as_counts_per_interval(callers: Vault) -> None:
    for _ in range(3):
        _problem(callers.client.get("/v1/admin/members"), 401)
    _problem(callers.client.get("/v1/org", headers=callers.as_("expired")), 401)
    counter = callers.client.app.state.accounts.refusals  # type: ignore[attr-defined]
    assert counter.pending() == {refusals.NO_SESSION: 3, refusals.DEAD_SESSION: 1}
    size = _log_size(callers)
    counter.flush()
    assert counter.pending() == {}
    with session_scope(_engine(callers), readonly=True) as session:
        logged = [
            audit.decode_event(e)
            for e in audit.entries(session, start=size, end=audit.tree_size(session))
        ]
    assert {(e.actor, e.reason, e.count) for e in logged} == {
        (audit.ANONYMOUS, refusals.DEAD_SESSION, 1),
        (audit.ANONYMOUS, refusals.NO_SESSION, 3),
    }
    assert all(e.action is audit.Action.REFUSALS_COUNTED for e in logged)


def test_an_interval_over_is_logged_at_the_next_refusal(engine: Engine) -> None:  # noqa: F811
    now = [0.0]
    counter = refusals.RefusalCounter(engine, interval_seconds=60, clock=lambda: now[0])
    counter.count(refusals.NO_SESSION)
    with session_scope(engine, readonly=True) as session:
        before = audit.tree_size(session)
    now[0] = 61.0
    counter.count(refusals.NO_SESSION)
    with session_scope(engine, readonly=True) as session:
        assert audit.tree_size(session) == before + 1
        (entry,) = audit.entries(session, start=before, end=before + 1)
    assert audit.decode_event(entry).count == 1
    assert counter.pending() == {refusals.NO_SESSION: 1}


# --- records and cases ------------------------------------------------------------------------

RECIPIENTS = ("intake", "caseworker")


def recipients_only(allowed: int) -> Expect:
    """401 without a valid session, 403 for a live admin or auditor, `allowed` for intake
    and caseworker accounts."""
    return lambda caller: (
        401 if caller is None or caller in DEAD else allowed if caller in RECIPIENTS else 403
    )


@pytest.fixture
def holding(callers: Vault) -> dict[str, str]:
    """A record for each recipient caller, sealed to that caller alone: caller -> id."""
    engine = _engine(callers)  # noqa: F811 - not the fixture: the app's
    held: dict[str, str] = {}
    for caller in RECIPIENTS:
        with session_scope(engine, readonly=True) as session:
            account = session.exec(
                select(Account).where(Account.username == f"{caller}-user")
            ).one()
            key = session.exec(
                select(EnrolledKey).where(EnrolledKey.account_id == account.id)
            ).one()
        held[caller] = seed_record(engine, {account.opaque_id: key.recipient}).id
    return held


def _sealed_reply() -> str:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(b"reply"), out, [age.recipient_of(age.generate_identity("pq"))])
    return base64.b64encode(out.getvalue()).decode()


def _own_case(vault: Vault, caller: str) -> str:
    if caller not in RECIPIENTS:
        return "A" * 26
    response = vault.client.post(
        "/v1/cases", json={"sealed": "c2VhbGVk"}, headers=vault.as_(caller)
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    return case_id


Pick = Callable[[Vault, str, str], str]
# Each route: how to build the path from (vault, caller, the caller's record), a body, and
# what each caller must get. An allowed caller acts on its own record, so the order of
# callers cannot change an answer.
RECORD_ROUTES: dict[str, tuple[str, Pick, Callable[[Vault, str], Any], Expect]] = {
    "inbox": ("GET", lambda v, c, r: "/v1/records", lambda v, c: None, recipients_only(200)),
    "header": (
        "GET",
        lambda v, c, r: f"/v1/records/{r}/header",
        lambda v, c: None,
        recipients_only(200),
    ),
    "payload": (
        "GET",
        lambda v, c, r: f"/v1/records/{r}/payload",
        lambda v, c: None,
        recipients_only(200),
    ),
    # A grant statement needs the caller's signing key, which these accounts lack: an
    # allowed caller reaches the route and is told what is wrong with the grant.
    "grant": (
        "POST",
        lambda v, c, r: f"/v1/records/{r}/grants",
        lambda v, c: {"target": "B" * 26, "header": "aGVhZGVy", "statement": "x\n"},
        recipients_only(422),
    ),
    "revoke": (
        "DELETE",
        lambda v, c, r: f"/v1/records/{r}/grants/{_ids(v).get(f'{c}-user', 'B' * 26)}",
        lambda v, c: None,
        recipients_only(204),
    ),
    "thread": (
        "GET",
        lambda v, c, r: f"/v1/records/{r}/thread",
        lambda v, c: None,
        recipients_only(200),
    ),
    "reply": (
        "POST",
        lambda v, c, r: f"/v1/records/{r}/replies",
        lambda v, c: {"sealed": _sealed_reply()},
        recipients_only(201),
    ),
    "export": (
        "POST",
        lambda v, c, r: f"/v1/records/{r}/exports",
        lambda v, c: None,
        recipients_only(201),
    ),
    "delete": (
        "DELETE",
        lambda v, c, r: f"/v1/records/{r}",
        lambda v, c: None,
        recipients_only(204),
    ),
    "case-create": (
        "POST",
        lambda v, c, r: "/v1/cases",
        lambda v, c: {"sealed": "c2VhbGVk"},
        recipients_only(201),
    ),
    "case-add": (
        "POST",
        lambda v, c, r: f"/v1/cases/{_own_case(v, c)}/records",
        lambda v, c: None,  # replaced per caller below: the caller's own record
        recipients_only(201),
    ),
    "case-list": ("GET", lambda v, c, r: "/v1/cases", lambda v, c: None, recipients_only(200)),
}


@pytest.mark.parametrize("route", RECORD_ROUTES)
def test_records_and_cases_are_for_intake_and_caseworkers_only(
    callers: Vault, holding: dict[str, str], route: str
) -> None:
    method, pick, body, expect = RECORD_ROUTES[route]
    ids = _ids(callers)
    counter = callers.client.app.state.accounts.refusals  # type: ignore[attr-defined]
    for caller in CALLERS:
        record = holding.get(str(caller), holding["intake"])
        path = pick(callers, str(caller), record)
        sent = {"record": record} if route == "case-add" else body(callers, str(caller))
        headers = {} if caller is None else {"Authorization": f"Bearer {callers.tokens[caller]}"}
        size, counted = _log_size(callers), sum(counter.pending().values())
        response = callers.client.request(method, path, json=sent, headers=headers)
        status = expect(caller)
        where = f"{route} as {caller or 'anonymous'}"
        if status >= 400:
            _problem(response, status)
        else:
            assert response.status_code == status, f"{where}: {response.text}"
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer", where
            assert _log_size(callers) == size, f"{where}: an anonymous refusal was logged"
            assert sum(counter.pending().values()) == counted + 1, f"{where}: not counted"
        if status == 403:
            assert _log_size(callers) == size + 1, f"{where}: the refusal was not logged"
            refused = _last_entry(callers)
            assert (refused.action, refused.reason) == (audit.Action.REFUSED, NOT_A_RECIPIENT)
            assert refused.actor == ids["root" if caller == "admin" else f"{caller}-user"]
