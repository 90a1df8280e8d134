"""`/v1/records` over HTTP, on SQLite and PostgreSQL: what each route answers, and that each
leaves exactly its own log entry, which an auditor replaying the log finds honest.

Staff enrol with real keys through the API; records are stored as a completed submission
leaves them (tests/vault/records/support.py), so these tests need no source client.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import select

from client.fetchproof import verify_fetch
from crypto import age, note
from tests.api.test_accounts_routes import Vault, _b64, _problem, vault
from tests.db import db_settings, db_url, engine, postgresql, sqlite_template  # noqa: F401
from tests.vault.records.support import (
    Seeded,
    Staff,
    assert_log_honest,
    grant_statement,
    header_for,
    headers_of,
    log_entries,
    log_size,
    race,
    seed_record,
)
from vault import audit
from vault.accounts.codes import today
from vault.audit import Action
from vault.db import session_scope
from vault.models import Account
from vault.records import NOT_A_HOLDER, NOT_A_RECIPIENT

__all__ = ["vault"]  # the fixture, imported for this module's tests

MISSING = "A" * 26


@dataclass
class Desk:
    """A vault with an intake, a caseworker and a colleague enrolled with real keys, an
    auditor, and one report sealed to the intake account."""

    vault: Vault
    engine: Engine
    staff: dict[str, Staff]
    report: Seeded

    def as_(self, who: str | None) -> dict[str, str]:
        return self.vault.as_(who)

    def request(
        self, method: str, path: str, who: str | None, *, headers: Any = None, **kwargs: Any
    ) -> Any:
        sent = {**self.as_(who), **(headers or {})}
        return self.vault.client.request(method, f"/v1{path}", headers=sent, **kwargs)

    def grant_body(self, granter: str, target: str, seeded: Seeded | None = None) -> dict[str, str]:
        seeded = seeded or self.report
        grantee = self.staff[target]
        return {
            "target": grantee.id,
            "header": _b64(header_for(seeded, grantee)),
            "statement": grant_statement(self.staff[granter], seeded.id, grantee).decode(),
        }


def _engine_of(vault: Vault) -> Engine:
    found = vault.client.app.state.engine  # type: ignore[attr-defined]
    assert isinstance(found, Engine)
    return found


def _enrol(vault: Vault, username: str, role: str) -> Staff:
    identity = age.generate_identity("pq")
    signing_key = Ed25519PrivateKey.generate()
    verify_key = signing_key.public_key().public_bytes_raw()
    recipient = age.recipient_of(identity) if role in ("intake", "caseworker") else None
    body = vault.enrol_body(
        username, vault.add(username, role), recipient=recipient, verify_key=_b64(verify_key)
    )
    assert vault.client.post("/v1/enrol", json=body).status_code == 201
    vault.tokens[username] = vault.login(username, body["totp_secret"])
    with session_scope(_engine_of(vault), readonly=True) as session:
        account = session.exec(select(Account).where(Account.username == username)).one()
    return Staff(account, identity, signing_key)


def make_desk(vault: Vault) -> Desk:
    assert vault.register().status_code == 201
    staff = {
        "intake": _enrol(vault, "intake", "intake"),
        "caseworker": _enrol(vault, "caseworker", "caseworker"),
        "colleague": _enrol(vault, "colleague", "caseworker"),
        "auditor": _enrol(vault, "auditor", "auditor"),
    }
    intake = staff["intake"]
    report = seed_record(
        _engine_of(vault),
        {intake.id: intake.recipient},
        plaintext=b"report " * 3000,
        chunk_bytes=4096,
    )
    return Desk(vault, _engine_of(vault), staff, report)


@pytest.fixture
def desk(vault: Vault) -> Desk:
    return make_desk(vault)


def _new_entries(desk: Desk, before: int) -> list[audit.Event]:
    return log_entries(desk.engine, before)


def _log_verifier(desk: Desk) -> note.Verifier:
    org = desk.vault.client.get("/v1/org").json()
    return note.parse_verifier_key(org["log_key"])


# --- inbox and header -----------------------------------------------------------------------


def test_the_inbox_shows_what_the_caller_holds(desk: Desk) -> None:
    before = log_size(desk.engine)
    response = desk.request("GET", "/records", "intake")
    assert response.status_code == 200, response.text
    (listed,) = response.json()
    assert listed == {
        "id": desk.report.id,
        "kind": "report",
        "parent": None,
        "size": len(desk.report.payload),
        "day": listed["day"],
        "log_index": desk.report.log_index,
        "holders": [desk.staff["intake"].id],
    }
    assert desk.request("GET", "/records", "caseworker").json() == []
    assert log_size(desk.engine) == before


def test_a_header_passes_the_clients_fetch_proof_check(desk: Desk) -> None:
    before = log_size(desk.engine)
    response = desk.request("GET", f"/records/{desk.report.id}/header", "intake")
    assert response.status_code == 200, response.text
    served = response.json()
    verified = verify_fetch(
        served, record=desk.report.id, account=desk.staff["intake"].id, log=_log_verifier(desk)
    )
    assert verified.checkpoint.tree_size == before + 1
    header = base64.b64decode(served["header"])
    out = io.BytesIO()
    age.decrypt(io.BytesIO(header + desk.report.payload), out, [desk.staff["intake"].identity])
    assert out.getvalue() == desk.report.plaintext
    (event,) = _new_entries(desk, before)
    assert (event.action, event.part) == (Action.RECORD_FETCHED, "header")
    assert_log_honest(desk.engine)


@pytest.mark.parametrize("record", ["held-by-another", "missing"])
def test_a_record_not_held_is_a_logged_404_alike_for_every_id(desk: Desk, record: str) -> None:
    record_id = desk.report.id if record == "held-by-another" else MISSING
    before = log_size(desk.engine)
    body = _problem(desk.request("GET", f"/records/{record_id}/header", "caseworker"), 404)
    assert body["detail"] == "not found: no such record among those sealed to you"
    (event,) = _new_entries(desk, before)
    assert (event.action, event.actor, event.reason) == (
        Action.REFUSED,
        desk.staff["caseworker"].id,
        NOT_A_HOLDER,
    )


def test_a_malformed_record_id_is_refused(desk: Desk) -> None:
    _problem(desk.request("GET", "/records/not-an-id/header", "intake"), 422)


# --- payload ----------------------------------------------------------------------------------


def test_a_payload_is_served_whole_and_logged(desk: Desk) -> None:
    before = log_size(desk.engine)
    response = desk.request("GET", f"/records/{desk.report.id}/payload", "intake")
    assert response.status_code == 200
    assert response.content == desk.report.payload
    assert response.headers["content-length"] == str(len(desk.report.payload))
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["accept-ranges"] == "bytes"
    (event,) = _new_entries(desk, before)
    assert (event.action, event.part, event.record) == (
        Action.RECORD_FETCHED,
        "payload",
        desk.report.id,
    )


@pytest.mark.parametrize("start", [0, 1, 4095, 4096, 4097, -1])
def test_a_range_resumes_the_payload(desk: Desk, start: int) -> None:
    payload = desk.report.payload
    start = start % len(payload)
    before = log_size(desk.engine)
    response = desk.request(
        "GET", f"/records/{desk.report.id}/payload", "intake", headers={"Range": f"bytes={start}-"}
    )
    assert response.status_code == 206
    assert response.content == payload[start:]
    size = len(payload)
    assert response.headers["content-range"] == f"bytes {start}-{size - 1}/{size}"
    # Only a fetch from the first byte is logged; a resumed one continues it.
    assert log_size(desk.engine) == before + (1 if start == 0 else 0)


@pytest.mark.parametrize(
    "value", ["bytes=999999-", "bytes=0-10", "bytes=-5", "items=0-", "bytes=1-,5-"]
)
def test_an_unservable_range_is_416(desk: Desk, value: str) -> None:
    before = log_size(desk.engine)
    response = desk.request(
        "GET", f"/records/{desk.report.id}/payload", "intake", headers={"Range": value}
    )
    _problem(response, 416)
    assert response.headers["content-range"].startswith("bytes */")
    assert log_size(desk.engine) == before


def test_a_payload_not_held_is_a_logged_404(desk: Desk) -> None:
    before = log_size(desk.engine)
    _problem(desk.request("GET", f"/records/{desk.report.id}/payload", "caseworker"), 404)
    assert [e.reason for e in _new_entries(desk, before)] == [NOT_A_HOLDER]


# --- grants and revokes -----------------------------------------------------------------------


def test_grant_then_revoke(desk: Desk) -> None:
    rid = desk.report.id
    before = log_size(desk.engine)
    body = desk.grant_body("intake", "caseworker")
    response = desk.request("POST", f"/records/{rid}/grants", "intake", json=body)
    assert (response.status_code, response.json()) == (201, {"granted": True})
    again = desk.request("POST", f"/records/{rid}/grants", "intake", json=body)
    assert (again.status_code, again.json()) == (200, {"granted": False})
    assert desk.request("GET", f"/records/{rid}/header", "caseworker").status_code == 200
    response = desk.request(
        "DELETE", f"/records/{rid}/grants/{desk.staff['caseworker'].id}", "intake"
    )
    assert response.status_code == 204
    _problem(desk.request("GET", f"/records/{rid}/header", "caseworker"), 404)
    assert [(e.action, e.actor) for e in _new_entries(desk, before)] == [
        (Action.RECORD_GRANTED, desk.staff["intake"].id),
        (Action.RECORD_FETCHED, desk.staff["caseworker"].id),
        (Action.RECORD_REVOKED, desk.staff["intake"].id),
        (Action.REFUSED, desk.staff["caseworker"].id),
    ]
    assert_log_honest(desk.engine)


@pytest.mark.parametrize(
    "change",
    [
        {"header": "not base64!"},
        {"header": _b64(b"age-encryption.org/v1\n")},
        {"statement": "unsigned\n"},
        {"target": "short"},
        {"extra": 1},
    ],
    ids=["header-not-base64", "header-not-age", "unsigned", "bad-target", "extra-field"],
)
def test_a_bad_grant_is_422_and_stores_nothing(desk: Desk, change: dict[str, Any]) -> None:
    body = {**desk.grant_body("intake", "caseworker"), **change}
    before = log_size(desk.engine)
    _problem(desk.request("POST", f"/records/{desk.report.id}/grants", "intake", json=body), 422)
    assert log_size(desk.engine) == before
    assert set(headers_of(desk.engine, desk.report.id)) == {desk.staff["intake"].id}


def test_a_grant_to_an_auditor_is_refused(desk: Desk) -> None:
    auditor = desk.staff["auditor"]
    header = age.make_header(desk.report.file_key, [desk.staff["colleague"].recipient])
    body = {"target": auditor.id, "header": _b64(header), "statement": "x\n"}
    _problem(desk.request("POST", f"/records/{desk.report.id}/grants", "intake", json=body), 422)


def test_revoking_someone_who_holds_nothing_is_404(desk: Desk) -> None:
    target = desk.staff["colleague"].id
    _problem(desk.request("DELETE", f"/records/{desk.report.id}/grants/{target}", "intake"), 404)


def test_disabling_an_account_deletes_its_headers(desk: Desk) -> None:
    rid = desk.report.id
    body = desk.grant_body("intake", "caseworker")
    assert desk.request("POST", f"/records/{rid}/grants", "intake", json=body).status_code == 201
    response = desk.vault.client.post(
        "/v1/admin/users/caseworker/disable", headers=desk.as_("admin")
    )
    assert response.status_code == 204
    assert set(headers_of(desk.engine, rid)) == {desk.staff["intake"].id}
    assert_log_honest(desk.engine)


# --- thread, replies, exports, deletion -------------------------------------------------------


def _sealed(desk: Desk) -> str:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(b"a signed reply"), out, [desk.staff["intake"].recipient])
    return _b64(out.getvalue())


def test_replies_and_the_thread(desk: Desk) -> None:
    rid = desk.report.id
    before = log_size(desk.engine)
    for expected in (1, 2):
        response = desk.request(
            "POST", f"/records/{rid}/replies", "intake", json={"sealed": _sealed(desk)}
        )
        assert (response.status_code, response.json()) == (201, {"sequence": expected})
    response = desk.request("GET", f"/records/{rid}/thread", "intake")
    assert response.status_code == 200
    thread = response.json()
    assert [(r["sequence"], r["author"]) for r in thread["replies"]] == [
        (1, desk.staff["intake"].id),
        (2, desk.staff["intake"].id),
    ]
    assert thread["followups"] == []
    assert [(e.action, e.part) for e in _new_entries(desk, before)] == [
        (Action.RECORD_REPLIED, None),
        (Action.RECORD_REPLIED, None),
        (Action.RECORD_FETCHED, "thread"),
    ]


def test_a_reply_that_is_not_an_age_file_is_422(desk: Desk) -> None:
    body = {"sealed": _b64(b"plain text")}
    _problem(desk.request("POST", f"/records/{desk.report.id}/replies", "intake", json=body), 422)


def test_an_export_is_logged_first(desk: Desk) -> None:
    before = log_size(desk.engine)
    response = desk.request("POST", f"/records/{desk.report.id}/exports", "intake")
    assert (response.status_code, response.json()) == (201, {"index": before})
    (event,) = _new_entries(desk, before)
    assert (event.action, event.record) == (Action.RECORD_EXPORTED, desk.report.id)


def test_a_deleted_record_is_gone_for_everyone(desk: Desk) -> None:
    rid = desk.report.id
    before = log_size(desk.engine)
    assert desk.request("DELETE", f"/records/{rid}", "intake").status_code == 204
    (event,) = _new_entries(desk, before)
    assert (event.action, event.actor) == (Action.RECORD_DELETED, desk.staff["intake"].id)
    assert desk.request("GET", "/records", "intake").json() == []
    _problem(desk.request("GET", f"/records/{rid}/payload", "intake"), 404)
    _problem(desk.request("DELETE", f"/records/{rid}", "intake"), 404)
    assert_log_honest(desk.engine)


# --- who may call -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "auditor"])
def test_admins_and_auditors_get_a_logged_403(desk: Desk, who: str) -> None:
    before = log_size(desk.engine)
    _problem(desk.request("GET", "/records", who), 403)
    (event,) = _new_entries(desk, before)
    assert (event.action, event.reason) == (Action.REFUSED, NOT_A_RECIPIENT)


def test_the_inbox_applies_the_retention_period(desk: Desk) -> None:
    state = desk.vault.client.app.state  # type: ignore[attr-defined]
    state.settings = state.settings.model_copy(update={"retention_days": 30})
    intake = desk.staff["intake"]
    old = seed_record(desk.engine, {intake.id: intake.recipient}, day=today() - timedelta(days=31))
    before = log_size(desk.engine)
    listed = desk.request("GET", "/records", "intake").json()
    assert [r["id"] for r in listed] == [desk.report.id]
    (event,) = _new_entries(desk, before)
    assert (event.action, event.actor, event.record) == (
        Action.RECORD_DELETED,
        audit.RETENTION,
        old.id,
    )


def test_racing_grants_over_http_answer_once_201_and_never_5xx(desk: Desk) -> None:
    rid = desk.report.id
    body = desk.grant_body("intake", "caseworker")
    before = log_size(desk.engine)
    answers = race(5, lambda: desk.request("POST", f"/records/{rid}/grants", "intake", json=body))
    codes = sorted(answer.status_code for answer in answers)  # type: ignore[attr-defined]
    assert codes == [200, 200, 200, 200, 201]
    assert [e.action for e in _new_entries(desk, before)] == [Action.RECORD_GRANTED]
    assert set(headers_of(desk.engine, rid)) == {
        desk.staff["intake"].id,
        desk.staff["caseworker"].id,
    }
