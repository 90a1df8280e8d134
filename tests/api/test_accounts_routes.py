"""The org, auth, enrol and admin routes, for every role and for anonymous callers, on
SQLite and PostgreSQL. Refusals are RFC 9457 problems and write nothing half-way."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from crypto import age, note, roster
from tests.db import db_settings, db_url, engine, postgresql, sqlite_template  # noqa: F401
from vault.accounts import backoff, startup
from vault.accounts.codes import today
from vault.settings import Settings

PASSWORD = "a password long enough"
ORG_KEY = note.Signer(roster.ORG_KEY_NAME, Ed25519PrivateKey.generate())
ROLES = ("admin", "intake", "caseworker", "auditor")
WEAK = {"username": "root", "password": "short", "totp_secret": "A" * 32, "totp_code": "000000"}


def _totp(secret: str, offset: int = 0) -> str:
    return str(pyotp.TOTP(secret).at(time.time() + 30 * offset))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


class Vault:
    """A client on a fresh vault, with helpers that walk the flows over HTTP."""

    def __init__(self, client: TestClient, bootstrap_code: str) -> None:
        self.client = client
        self.bootstrap_code = bootstrap_code
        self.tokens: dict[str, str] = {}

    def register(self, **changes: Any) -> Any:
        secret = pyotp.random_base32(32)
        body: dict[str, Any] = {
            "bootstrap_code": self.bootstrap_code,
            "name": "Org",
            "public_key": _b64(ORG_KEY.verifier.public_key),
            "admin": {
                "username": "root",
                "password": PASSWORD,
                "totp_secret": secret,
                "totp_code": _totp(secret),
            },
        }
        body.update(changes)
        response = self.client.post("/v1/org", json=body)
        if response.status_code == 201:
            self.tokens["admin"] = self.login("root", secret)
        return response

    def login(self, username: str, secret: str) -> str:
        response = self.client.post(
            "/v1/auth/login",
            json={"username": username, "password": PASSWORD, "totp_code": _totp(secret)},
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def as_(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def add(self, username: str, role: str) -> dict[str, Any]:
        response = self.client.post(
            "/v1/admin/users", json={"username": username, "role": role}, headers=self.as_("admin")
        )
        assert response.status_code == 201, response.text
        issued: dict[str, Any] = response.json()
        return issued

    def enrol_body(self, username: str, issued: dict[str, Any], **changes: Any) -> dict[str, Any]:
        secret = pyotp.random_base32(32)
        recipient = (
            age.recipient_of(age.generate_identity("pq"))
            if issued["role"] in ("intake", "caseworker")
            else None
        )
        body = {
            "code_id": issued["code_id"],
            "server_half": issued["server_half"],
            "username": username,
            "password": PASSWORD,
            "totp_secret": secret,
            "totp_code": _totp(secret),
            "recipient": recipient,
            "verify_key": _b64(bytes(32)),
            "mac": _b64(bytes(32)),
        }
        body.update(changes)
        return body

    def staff(self, role: str) -> None:
        """An enrolled, logged-in account of `role` (besides the org's first admin)."""
        username = f"{role}-user"
        body = self.enrol_body(username, self.add(username, role))
        assert self.client.post("/v1/enrol", json=body).status_code == 201
        self.tokens[role] = self.login(username, body["totp_secret"])


@pytest.fixture
def vault(db_settings: Settings, engine: Engine) -> Iterator[Vault]:  # noqa: F811
    code = startup.prepare(db_settings, engine)
    assert code is not None
    with TestClient(create_app(db_settings)) as client:
        yield Vault(client, code)


@pytest.fixture
def staffed(vault: Vault) -> Vault:
    assert vault.register().status_code == 201
    for role in ("intake", "caseworker", "auditor"):
        vault.staff(role)
    return vault


def test_there_is_no_org_before_org_init(vault: Vault) -> None:
    _problem(vault.client.get("/v1/org"), 404)


@pytest.mark.parametrize(
    "changes",
    [
        {"bootstrap_code": "WRONG-CODE"},
        {"public_key": "not base64!"},
        {"public_key": _b64(b"short")},
        {"recipient_type": "rsa"},
        {"admin": {"username": "root"}},
        {"unexpected": 1},
        {"recovery_recipient": age.recipient_of(age.generate_identity("x25519"))},
        {"admin": {**WEAK}},
    ],
    ids=[
        "wrong-code",
        "key-not-base64",
        "key-too-short",
        "type",
        "no-secrets",
        "extra",
        "recovery-of-another-type",
        "weak",
    ],
)
def test_a_refused_registration_writes_nothing(vault: Vault, changes: dict[str, Any]) -> None:
    status = 403 if "bootstrap_code" in changes else 422
    _problem(vault.register(**changes), status)
    _problem(vault.client.get("/v1/org"), 404)
    assert vault.register().status_code == 201  # the code was not used up


def test_a_weak_password_is_refused_with_the_rule(vault: Vault) -> None:
    secret = pyotp.random_base32(32)
    admin = {"username": "root", "password": "short", "totp_secret": secret}
    body = _problem(vault.register(admin={**admin, "totp_code": _totp(secret)}), 422)
    assert "at least 12 characters" in body["detail"]


def test_the_bootstrap_code_is_single_use(vault: Vault) -> None:
    assert vault.register().status_code == 201
    _problem(vault.register(), 403)


def test_anonymous_callers_see_no_staff_names(staffed: Vault) -> None:
    org = staffed.client.get("/v1/org").json()
    assert org["staff_roster"] is None
    assert org["log_key"]
    assert roster.normalise_fingerprint(org["fingerprint"]) == roster.fingerprint(
        ORG_KEY.verifier.public_key
    )
    assert "user" not in str(org)


@pytest.mark.parametrize("role", [*ROLES, None])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/admin/users", {"username": "new-user", "role": "intake"}),
        ("POST", "/v1/admin/users/intake-user/disable", None),
        ("GET", "/v1/admin/members", None),
        ("POST", "/v1/admin/roster", {"staff": "x", "public": "y"}),
    ],
    ids=["add-user", "disable", "members", "roster"],
)
def test_admin_routes_are_for_admins_only(
    staffed: Vault, role: str | None, method: str, path: str, body: Any
) -> None:
    response = staffed.client.request(method, path, json=body, headers=staffed.as_(role))
    if role is None:
        _problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    elif role != "admin":
        _problem(response, 403)
    elif path.endswith("/roster"):
        _problem(response, 422)  # an admin, but not a signed roster
    else:
        assert response.status_code in (200, 201, 204), response.text


def _signed_rosters(
    client: TestClient, version: int, *, signer: note.Signer = ORG_KEY, **changes: Any
) -> dict[str, str]:
    org = client.get("/v1/org").json()
    common: dict[str, Any] = {
        "org": {"name": org["name"], "fingerprint": org["fingerprint"]},
        "version": version,
        "issued": today().isoformat(),
        "expires": (today() + timedelta(days=30)).isoformat(),
        "policy": {"recipient_type": "pq"},
        "log_key": org["log_key"],
    }
    common.update(changes)
    return {
        "staff": roster.sign_roster(
            {"type": roster.STAFF_TYPE, **common, "members": []}, signer
        ).decode(),
        "public": roster.sign_roster(
            {"type": roster.PUBLIC_TYPE, **common, "intake": []}, signer
        ).decode(),
    }


@pytest.mark.parametrize("role", ROLES)
def test_staff_get_the_full_roster_and_anonymous_callers_the_public_one(
    staffed: Vault, role: str
) -> None:
    admin = staffed.as_("admin")
    response = staffed.client.post(
        "/v1/admin/roster", json=_signed_rosters(staffed.client, 1), headers=admin
    )
    assert response.status_code == 201, response.text
    mine = staffed.client.get("/v1/org", headers=staffed.as_(role)).json()
    assert mine["staff_roster"].startswith('{"expires"')
    anonymous = staffed.client.get("/v1/org").json()
    assert anonymous["staff_roster"] is None
    assert "tvault-public-roster/v1" in anonymous["roster"]


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"expires": "2020-01-01"}, 422),
        ({"log_key": None}, 422),
        ({"version": 2}, 409),
    ],
    ids=["expired", "no-log-key", "skips-a-version"],
)
def test_a_bad_roster_is_refused(staffed: Vault, changes: dict[str, Any], status: int) -> None:
    changes = dict(changes)  # parametrize shares the dict between the engines
    body = _signed_rosters(staffed.client, changes.pop("version", 1), **changes)
    response = staffed.client.post("/v1/admin/roster", json=body, headers=staffed.as_("admin"))
    _problem(response, status)
    assert staffed.client.get("/v1/org").json()["roster"] is None


def test_a_tampered_or_replayed_roster_is_refused(staffed: Vault) -> None:
    admin = staffed.as_("admin")
    body = _signed_rosters(staffed.client, 1)
    tampered = {**body, "staff": body["staff"].replace('"version":1', '"version":9')}
    _problem(staffed.client.post("/v1/admin/roster", json=tampered, headers=admin), 422)
    assert staffed.client.post("/v1/admin/roster", json=body, headers=admin).status_code == 201
    _problem(staffed.client.post("/v1/admin/roster", json=body, headers=admin), 409)


def test_enrolment_refusals(vault: Vault) -> None:
    assert vault.register().status_code == 201
    issued = vault.add("kim", "intake")
    body = vault.enrol_body("kim", issued)
    _problem(vault.client.post("/v1/enrol", json={**body, "server_half": "AAAA"}), 403)
    _problem(vault.client.post("/v1/enrol", json={**body, "password": "short"}), 422)
    _problem(vault.client.post("/v1/enrol", json={**body, "totp_code": "000000"}), 422)
    _problem(vault.client.post("/v1/enrol", json={**body, "recipient": None}), 422)
    lookup = {k: body[k] for k in ("code_id", "server_half", "username")}
    assert vault.client.post("/v1/enrol/lookup", json=lookup).json()["role"] == "intake"
    assert vault.client.post("/v1/enrol", json=body).status_code == 201
    _problem(vault.client.post("/v1/enrol", json=body), 403)  # used
    _problem(vault.client.post("/v1/enrol/lookup", json=lookup), 403)


def test_login_failures_look_alike_then_back_off(staffed: Vault) -> None:
    wrong = {"username": "nobody", "password": PASSWORD, "totp_code": "000000"}
    details = set()
    for username in ("nobody", "root"):
        body = _problem(
            staffed.client.post("/v1/auth/login", json={**wrong, "username": username}), 401
        )
        details.add(body["detail"])
    assert len(details) == 1
    for _ in range(backoff.FREE_FAILURES):
        staffed.client.post("/v1/auth/login", json=wrong)
    response = staffed.client.post("/v1/auth/login", json=wrong)
    _problem(response, 429)
    assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize("role", ROLES)
def test_logout_ends_the_session_for_every_role(staffed: Vault, role: str) -> None:
    headers = staffed.as_(role)
    assert staffed.client.post("/v1/auth/logout", headers=headers).status_code == 204
    _problem(staffed.client.post("/v1/auth/logout", headers=headers), 401)
    _problem(staffed.client.get("/v1/org", headers=headers), 401)


def test_logout_needs_a_session(staffed: Vault) -> None:
    _problem(staffed.client.post("/v1/auth/logout"), 401)
    bogus = {"Authorization": "Bearer tvs1_" + "A" * 54}
    _problem(staffed.client.post("/v1/auth/logout", headers=bogus), 401)


def test_disabling_a_user_ends_their_sessions(staffed: Vault) -> None:
    response = staffed.client.post(
        "/v1/admin/users/intake-user/disable", headers=staffed.as_("admin")
    )
    assert response.status_code == 204
    _problem(staffed.client.get("/v1/org", headers=staffed.as_("intake")), 401)
    members = staffed.client.get("/v1/admin/members", headers=staffed.as_("admin")).json()
    assert {m["username"]: m["disabled"] for m in members}["intake-user"] is True


@pytest.mark.parametrize("path", ["/v1/org", "/v1/auth/login", "/v1/enrol", "/v1/admin/roster"])
def test_oversized_bodies_are_refused_before_any_route(vault: Vault, path: str) -> None:
    oversized = b"x" * (vault.client.app.state.settings.max_body_bytes + 1)  # type: ignore[attr-defined]
    response = vault.client.post(path, content=oversized)
    _problem(response, 413)
    _problem(vault.client.get("/v1/org"), 404)  # nothing was registered


@pytest.mark.parametrize("path", ["/v1/org", "/v1/auth/login", "/v1/enrol", "/v1/enrol/lookup"])
def test_malformed_json_is_a_problem(vault: Vault, path: str) -> None:
    response = vault.client.post(
        path, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    _problem(response, 422)
