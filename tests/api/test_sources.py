"""`/v1/sources` over HTTP, on SQLite and PostgreSQL: a source looks its records, replies
and follow-ups up with its lookup secret and sends numbered follow-ups; a wrong secret is
a counted 404; anonymous routes are rate limited without knowing who asks."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from crypto import age
from tests.db import db_settings, db_url, engine, postgresql, sqlite_template  # noqa: F401
from tests.vault.submissions.support import OrgSetup, b64, prepare_org, problem, submit
from vault.accounts.codes import today
from vault.audit import decode_event
from vault.db import session_scope
from vault.models import Reply
from vault.settings import Settings

SECRET = os.urandom(32)


@pytest.fixture
def org(db_settings: Settings, engine: Engine) -> OrgSetup:  # noqa: F811
    return prepare_org(db_settings, engine)


@pytest.fixture
def http(db_settings: Settings, engine: Engine, org: OrgSetup) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(db_settings, engine=engine, log_signer=org.log_signer)) as client:
        yield client


def _sealed(org: OrgSetup, text: bytes) -> bytes:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(text), out, list(org.recipients.values()))
    return out.getvalue()


def test_a_source_finds_its_records_and_replies(
    http: TestClient,
    org: OrgSetup,
    engine: Engine,  # noqa: F811
) -> None:
    created, done = submit(http, org, SECRET, count=2)
    report = created["records"][0]["id"]
    with session_scope(engine) as session:
        session.add(
            Reply(
                record_id=report, sequence=1, author="C" * 26, sealed=b"sealed", created_on=today()
            )
        )
    found = http.post("/v1/sources/lookup", json={"lookup_secret": b64(SECRET)})
    assert found.status_code == 200, found.text
    body = found.json()
    assert [r["id"] for r in body["records"]] == [r["id"] for r in created["records"]]
    indices = {r["id"]: r["log_index"] for r in done["records"]}
    for record in body["records"]:
        assert record["log_index"] == indices[record["id"]]
        entry = decode_event(base64.b64decode(record["entry"]))
        assert entry.record == record["id"]
    assert body["replies"] == [{"record": report, "sequence": 1, "sealed": b64(b"sealed")}]
    assert body["followups"] == []


def test_a_wrong_secret_finds_nothing_and_is_counted(http: TestClient, org: OrgSetup) -> None:
    submit(http, org, SECRET, count=1)
    for secret in (os.urandom(32), b"short"):
        response = http.post("/v1/sources/lookup", json={"lookup_secret": b64(secret)})
        problem(response, 404)
    problem(http.post("/v1/sources/lookup", json={"lookup_secret": "@@"}), 422)
    problem(http.post("/v1/sources/lookup", json={"lookup_secret": b64(bytes(100))}), 422)
    refusals = http.app.state.accounts.refusals  # type: ignore[attr-defined]
    assert refusals.pending() == {"bad-lookup-secret": 2}


def test_followups_are_numbered_in_order(http: TestClient, org: OrgSetup) -> None:
    created, _ = submit(http, org, SECRET, count=1)
    report = created["records"][0]["id"]
    sealed = b64(_sealed(org, b"I remembered something"))

    def followup(sequence: int, **changes: Any) -> Any:
        body = {
            "lookup_secret": b64(SECRET),
            "record": report,
            "sequence": sequence,
            "sealed": sealed,
            "mac": "ab" * 32,
            **changes,
        }
        return http.post("/v1/sources/followups", json=body)

    assert followup(1).status_code == 201
    assert followup(1).status_code == 409
    assert "number 2" in problem(followup(3), 409)["detail"]
    assert followup(2).json() == {"sequence": 2}
    problem(followup(3, sealed=b64(b"plaintext")), 422)
    problem(followup(3, mac="zz"), 422)
    problem(followup(3, lookup_secret=b64(os.urandom(32))), 404)
    problem(followup(3, record="A" * 26), 404)
    found = http.post("/v1/sources/lookup", json={"lookup_secret": b64(SECRET)}).json()
    assert found["followups"] == [
        {"record": report, "sequence": 1},
        {"record": report, "sequence": 2},
    ]


def test_anonymous_routes_are_rate_limited_for_everyone_together(
    db_settings: Settings,  # noqa: F811
    engine: Engine,  # noqa: F811
    org: OrgSetup,
) -> None:
    settings = db_settings.model_copy(update={"anonymous_rate": 0.001, "anonymous_burst": 2})
    app = create_app(settings, engine=engine, log_signer=org.log_signer)
    with TestClient(app) as http:
        assert http.post("/v1/tokens").status_code == 201
        assert http.post("/v1/tokens").status_code == 201
        refused = http.post("/v1/tokens")
        assert problem(refused, 429)["status"] == 429
        assert int(refused.headers["Retry-After"]) >= 1
        # A submission's bucket is taken before its body is read: malformed ones count.
        for _ in range(2):
            problem(http.post("/v1/submissions", content=b"{"), 415)
        problem(http.post("/v1/submissions", json={"records": []}), 429)
        # Each route has its own bucket.
        lookup = http.post("/v1/sources/lookup", json={"lookup_secret": b64(SECRET)})
        assert lookup.status_code == 404
