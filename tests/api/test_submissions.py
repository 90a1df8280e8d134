"""`/v1/tokens` and `/v1/submissions` over HTTP, on SQLite and PostgreSQL: a source stages,
uploads in chunks (resuming at the server's offset), completes and gets a receipt that the
signed log proves; every refusal is a problem and leaves nothing visible."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.app import create_app
from crypto import age, merkle
from crypto.checkpoint import open_checkpoint
from crypto.codename import lookup_hash
from crypto.merkle.rfc6962 import hash_leaf
from crypto.roster import canonical_json
from tests.api.conftest import start_server
from tests.db import db_settings, db_url, engine, postgresql, sqlite_template  # noqa: F401
from tests.vault.submissions.support import (
    OrgSetup,
    b64,
    completion,
    create,
    paid,
    prepare_org,
    problem,
    seal_record,
    solve,
    submit,
    upload,
)
from vault import audit
from vault.accounts.codes import today
from vault.audit import decode_event, verify_log
from vault.db import create_engine, session_scope
from vault.models import Record, RecordHeader
from vault.settings import Settings, load_settings
from vault.submissions.service import expire_staged

SECRET = os.urandom(32)


@pytest.fixture
def org(db_settings: Settings, engine: Engine) -> OrgSetup:  # noqa: F811
    return prepare_org(db_settings, engine)


def _client(settings: Settings, database: Engine, org: OrgSetup) -> TestClient:
    return TestClient(create_app(settings, engine=database, log_signer=org.log_signer))


@pytest.fixture
def http(db_settings: Settings, engine: Engine, org: OrgSetup) -> Iterator[TestClient]:  # noqa: F811
    with _client(db_settings, engine, org) as client:
        yield client


def _check_receipt(receipt: dict[str, Any], org: OrgSetup) -> None:
    checkpoint, _ = open_checkpoint(
        receipt["checkpoint"].encode(), origin=org.log_signer.name, log=org.log_signer.verifier
    )
    assert checkpoint.tree_size == receipt["tree_size"]
    merkle.verify_inclusion(
        leaf_hash=hash_leaf(base64.b64decode(receipt["entry"])),
        index=receipt["index"],
        tree_size=receipt["tree_size"],
        proof=[base64.b64decode(p) for p in receipt["proof"]],
        root=checkpoint.root_hash,
    )


def test_a_source_submits_a_report_and_attachments(http: TestClient, org: OrgSetup) -> None:
    created, done = submit(http, org, SECRET, count=3)
    assert [r["kind"] for r in created["records"]] == ["report", "attachment", "attachment"]
    assert created["chunk_bytes"] > 0
    assert created["expires"] > today().isoformat()
    _check_receipt(done["receipt"], org)
    report = created["records"][0]["id"]
    assert done["records"][0] == {"id": report, "log_index": done["receipt"]["index"]}
    entry = decode_event(base64.b64decode(done["receipt"]["entry"]))
    assert entry.record == report
    status = http.get(f"/v1/submissions/{created['id']}").json()
    assert status["state"] == "complete"
    assert [r["received"] for r in status["records"]] == [r["size"] for r in created["records"]]


def test_an_upload_resumes_where_the_server_is(http: TestClient, org: OrgSetup) -> None:
    sealed = [seal_record(os.urandom(3000), org.recipients)]
    created = create(http, sealed)
    rid = created["records"][0]["id"]
    url = f"/v1/submissions/{created['id']}/records/{rid}/payload"
    payload = sealed[0].payload
    assert http.put(f"{url}?offset=0", content=payload[:1000]).json() == {"received": 1000}
    status = http.get(f"/v1/submissions/{created['id']}").json()
    assert status["state"] == "open"
    assert status["records"][0]["received"] == 1000
    wrong = problem(http.put(f"{url}?offset=0", content=payload[:1000]), 409)
    assert wrong["received"] == 1000
    problem(http.put(f"{url}?offset=1500", content=payload[1500:]), 409)
    # A chunk without a Content-Length (chunked transfer coding) is taken whole too.
    pieces = iter([payload[1000:1100], payload[1100:1200], payload[1200:1300]])
    assert http.put(f"{url}?offset=1000", content=pieces).json() == {"received": 1300}
    assert http.put(f"{url}?offset=1300", content=payload[1300:]).json() == {
        "received": len(payload)
    }
    response = http.post(
        f"/v1/submissions/{created['id']}/complete", json=completion(created, sealed, SECRET)
    )
    assert response.status_code == 200, response.text


def test_sizes_and_chunks_over_the_limits_are_413(
    db_settings: Settings,  # noqa: F811
    engine: Engine,  # noqa: F811
    org: OrgSetup,
) -> None:
    settings = db_settings.model_copy(
        update={"max_body_bytes": 1024, "max_chunk_bytes": 4096, "max_report_bytes": 6000}
    )
    with _client(settings, engine, org) as http:
        records = [{"kind": "report", "size": 6001}]
        too_big = http.post(
            "/v1/submissions", json={"records": records, "pow": paid(http, records)}
        )
        problem(too_big, 413)
        sealed = [seal_record(os.urandom(5000), org.recipients)]
        created = create(http, sealed)
        rid = created["records"][0]["id"]
        assert created["chunk_bytes"] == 4096
        url = f"/v1/submissions/{created['id']}/records/{rid}/payload"
        payload = sealed[0].payload
        # Above the 1 KiB body limit, within the chunk limit: taken.
        assert http.put(f"{url}?offset=0", content=payload[:4096]).status_code == 200
        problem(http.put(f"{url}?offset=4096", content=bytes(4097)), 413)
        rest = len(payload) - 4096
        problem(http.put(f"{url}?offset=4096", content=bytes(rest + 1)), 413)
        # The 1 KiB limit still holds everywhere else.
        problem(http.post("/v1/tokens", content=bytes(2048)), 413)
        assert http.put(f"{url}?offset=4096", content=payload[4096:]).status_code == 200


def test_a_bad_replayed_or_expired_proof_of_work_is_refused(
    http: TestClient,
    engine: Engine,  # noqa: F811
) -> None:
    records = [{"kind": "report", "size": 100}]
    pow = paid(http, records)
    other = [{"kind": "report", "size": 101}]
    assert http.post("/v1/submissions", json={"records": records, "pow": pow}).status_code == 201
    replayed = problem(http.post("/v1/submissions", json={"records": records, "pow": pow}), 403)
    assert replayed["reason"] == "pow-refused"
    assert "used before" in replayed["detail"]
    fresh = paid(http, records)
    wrong = {**fresh, "counter": fresh["counter"] + 1}
    for body in (
        {"records": other, "pow": fresh},  # the work was for other records
        {"records": records, "pow": wrong},
        {"records": records, "pow": {"token": "not-a-token", "counter": 0}},
    ):
        response = http.post("/v1/submissions", json=body)
        # A counter that happens to solve the other records too is one in four at test bits.
        if response.status_code != 201:
            problem(response, 403)
    service = http.app.state.submissions  # type: ignore[attr-defined]
    stale = service.pow.issue(now=time.time() - 3600)
    binding = hashlib.sha256(canonical_json(records)).digest()
    expired = {"token": stale, "counter": solve(stale, binding)}
    body = problem(http.post("/v1/submissions", json={"records": records, "pow": expired}), 403)
    assert "expired" in body["detail"]
    assert service.refusals.pending()["pow-refused"] >= 3


def test_headers_of_the_wrong_type_or_holders_are_refused(http: TestClient, org: OrgSetup) -> None:
    sealed = [seal_record(os.urandom(500), org.recipients)]
    created = create(http, sealed)
    upload(http, created, sealed, chunk=1000)
    url = f"/v1/submissions/{created['id']}/complete"
    body = completion(created, sealed, SECRET)
    headers = body["records"][0]["headers"]
    first = next(iter(headers))
    classical = age.recipient_of(age.generate_identity("x25519"))
    x25519 = seal_record(b"x", {first: classical}).headers[first]
    for wrong in (
        {first: headers[first]},
        {**headers, "B" * 26: headers[first]},
        {**headers, first: b64(x25519)},
        {**headers, first: b64(b"not a header")},
    ):
        changed = {**body, "records": [{**body["records"][0], "headers": wrong}]}
        problem(http.post(url, json=changed), 422)
    assert http.get(f"/v1/submissions/{created['id']}").json()["state"] == "open"
    assert http.post(url, json=body).status_code == 200


def test_nothing_is_visible_before_completion_and_completing_again_is_harmless(
    http: TestClient,
    org: OrgSetup,
    engine: Engine,  # noqa: F811
) -> None:
    sealed = [seal_record(os.urandom(900), org.recipients) for _ in range(2)]
    created = create(http, sealed)
    upload(http, created, sealed, chunk=400)
    lookup = {"lookup_secret": b64(SECRET)}
    problem(http.post("/v1/sources/lookup", json=lookup), 404)
    with session_scope(engine, readonly=True) as session:
        assert session.exec(select(RecordHeader)).all() == []
    url = f"/v1/submissions/{created['id']}/complete"
    first = http.post(url, json=completion(created, sealed, SECRET)).json()
    again = http.post(url, json=completion(created, sealed, SECRET))
    assert again.status_code == 200
    assert again.json()["records"] == first["records"]
    _check_receipt(again.json()["receipt"], org)
    assert len(http.post("/v1/sources/lookup", json=lookup).json()["records"]) == 2


def test_malformed_requests_are_422_problems(http: TestClient, org: OrgSetup) -> None:
    records = [{"kind": "report", "size": 10}]
    pow = {"token": "t", "counter": 0}
    for body in (
        {"records": [], "pow": pow},
        {"records": [{"kind": "story", "size": 10}], "pow": pow},
        {"records": [{"kind": "report", "size": 0}], "pow": pow},
        {"records": records, "pow": pow, "name": "Mina"},
        {"records": [{**records[0], "payload": "***"}], "pow": pow},
        {"records": records, "pow": pow, "lookup_hash": "00" * 32},
    ):
        body = problem(http.post("/v1/submissions", json=body), 422)
        assert "Mina" not in str(body)
    problem(http.get("/v1/submissions/not-an-id"), 422)
    problem(http.get(f"/v1/submissions/{'A' * 26}"), 404)
    sealed = [seal_record(b"x" * 100, org.recipients)]
    created = create(http, sealed)
    url = f"/v1/submissions/{created['id']}/records/{created['records'][0]['id']}/payload"
    problem(http.put(f"{url}?offset=-1", content=b"x"), 422)
    problem(http.put(url, content=b"x"), 422)
    problem(http.put(f"{url}?offset=0", content=b""), 422)
    problem(
        http.put(
            f"/v1/submissions/{created['id']}/records/{'A' * 26}/payload?offset=0", content=b"x"
        ),
        404,
    )
    incomplete = http.post(
        f"/v1/submissions/{created['id']}/complete", json=completion(created, sealed, SECRET)
    )
    problem(incomplete, 409)


def test_a_submission_body_is_refused_as_fastapi_would_name_it(http: TestClient) -> None:
    """`POST /v1/submissions` is served directly (api.fast_route): the refusals still name
    the field, under `body`, and never echo what was sent."""
    pow = {"token": "t", "counter": 0}
    wrong_kind = {"records": [{"kind": "story", "size": 10}], "pow": pow}
    errors = problem(http.post("/v1/submissions", json=wrong_kind), 422)["errors"]
    assert errors == [{"loc": ["body", "records", "0", "kind"], "type": "enum"}]
    sent = b'{"records": [{"kind": "report", "size": 10}], "pow": '
    for body, loc in ((sent, ["body"]), (b"", ["body"]), (b"[1]", ["body"])):
        refused = http.post(
            "/v1/submissions", content=body, headers={"content-type": "application/json"}
        )
        assert [error["loc"] for error in problem(refused, 422)["errors"]] == [loc]
        assert "report" not in refused.text
    extra = http.post("/v1/submissions", json={**wrong_kind, "name": "Mina"})
    assert {"loc": ["body", "name"], "type": "extra_forbidden"} in problem(extra, 422)["errors"]
    assert "Mina" not in extra.text
    # JSON under another media type, or under none, is not taken as JSON.
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {} if content_type is None else {"content-type": content_type}
        refused = http.post("/v1/submissions", content=b"{}", headers=headers)
        assert problem(refused, 415)["detail"] == "The body must be application/json."
    suffixed = http.post(
        "/v1/submissions",
        content=b"{}",
        headers={"content-type": "application/vnd.tvault+json; charset=utf-8"},
    )
    assert problem(suffixed, 422)["errors"][0]["type"] == "missing"
    assert problem(http.get("/v1/submissions"), 405)["status"] == 405


def test_the_openapi_document_describes_the_submission_body(http: TestClient) -> None:
    document = http.get("/openapi.json").json()
    operation = document["paths"]["/v1/submissions"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/SubmissionIn"}
    schemas = document["components"]["schemas"]
    submission = schemas["SubmissionIn"]
    assert set(submission["required"]) == {"records", "pow"}
    assert submission["properties"]["pow"] == {"$ref": "#/components/schemas/PowIn"}
    assert schemas["RecordIn"]["properties"]["kind"] == {"$ref": "#/components/schemas/RecordKind"}
    answers = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/SubmittedOut"} in answers["anyOf"]


def test_a_small_report_goes_in_one_request(http: TestClient, org: OrgSetup) -> None:
    record = seal_record(b"a short report", org.recipients)
    records = [
        {
            "kind": "report",
            "size": len(record.payload),
            "payload": b64(record.payload),
            "commitment": record.commitment.hex(),
            "headers": {holder: b64(header) for holder, header in record.headers.items()},
        }
    ]
    body = {
        "records": records,
        "pow": paid(http, records),
        "lookup_hash": lookup_hash(SECRET).hex(),
    }
    response = http.post("/v1/submissions", json=body)
    assert response.status_code == 201, response.text
    done = response.json()
    _check_receipt(done["receipt"], org)
    assert http.get(f"/v1/submissions/{done['id']}").json()["state"] == "complete"
    found = http.post("/v1/sources/lookup", json={"lookup_secret": b64(SECRET)}).json()
    assert [r["id"] for r in found["records"]] == [done["records"][0]["id"]]


def test_abandoned_uploads_expire(
    http: TestClient,
    org: OrgSetup,
    engine: Engine,  # noqa: F811
    db_settings: Settings,  # noqa: F811
) -> None:
    sealed = [seal_record(os.urandom(900), org.recipients)]
    created = create(http, sealed)
    upload(http, created, sealed, chunk=400)
    later = today() + timedelta(days=db_settings.staged_upload_days + 1)
    assert expire_staged(engine, today=later) == 1
    problem(http.get(f"/v1/submissions/{created['id']}"), 404)
    with session_scope(engine, readonly=True) as session:
        assert session.exec(select(Record)).all() == []


def _resident_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_a_large_upload_holds_one_chunk_at_a_time(tmp_path: Path) -> None:
    # A real server: its memory must not grow with the payload, only with one chunk.
    server = start_server(tmp_path / "data", tmp_path / "server.log")
    try:
        settings = load_settings(data_dir=tmp_path / "data")
        database = create_engine(settings)
        try:
            prepare_org(settings, database)
        finally:
            database.dispose()
        size = 96 * 1024 * 1024
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            records = [{"kind": "report", "size": 100}, {"kind": "attachment", "size": size}]
            created = http.post(
                "/v1/submissions", json={"records": records, "pow": paid(http, records)}
            ).json()
            chunk = created["chunk_bytes"]
            url = f"/v1/submissions/{created['id']}/records/{created['records'][1]['id']}/payload"
            block = os.urandom(chunk)
            # The first chunk brings in what any upload needs; the rest must add nothing.
            assert http.put(f"{url}?offset=0", content=block).status_code == 200
            before = _resident_kib(server.process.pid, "VmRSS")
            most = before
            for offset in range(chunk, size, chunk):
                response = http.put(f"{url}?offset={offset}", content=block[: size - offset])
                assert response.status_code == 200, response.text
                most = max(most, _resident_kib(server.process.pid, "VmRSS"))
        # Growing with the payload would be 88 MiB here; one chunk in flight is 8 MiB.
        assert most - before < 4 * chunk // 1024, (before, most)
    finally:
        server.stop()


def _whole(http: TestClient, org: OrgSetup, secret: bytes) -> dict[str, Any]:
    """A one-request report body, its token solved."""
    record = seal_record(os.urandom(3000), org.recipients)
    records = [
        {
            "kind": "report",
            "size": len(record.payload),
            "payload": b64(record.payload),
            "commitment": record.commitment.hex(),
            "headers": {holder: b64(header) for holder, header in record.headers.items()},
        }
    ]
    return {
        "records": records,
        "pow": paid(http, records),
        "lookup_hash": lookup_hash(secret).hex(),
    }


def test_many_sources_at_once_each_get_a_receipt_and_the_log_stays_one(
    http: TestClient,
    org: OrgSetup,
    engine: Engine,  # noqa: F811
) -> None:
    # Threads sending one-request reports together: they are committed in batches, so
    # receipts share checkpoints, but each proves its own entry, and the log verifies.
    bodies = [_whole(http, org, os.urandom(32)) for _ in range(24)]
    replay = {**bodies[0], "lookup_hash": lookup_hash(os.urandom(32)).hex()}
    with ThreadPoolExecutor(8) as pool:
        responses = list(
            pool.map(lambda b: http.post("/v1/submissions", json=b), [*bodies, replay])
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 24 + [403]  # the token twice: accepted once
    receipts = [r.json()["receipt"] for r in responses if r.status_code == 201]
    for receipt in receipts:
        _check_receipt(receipt, org)
    assert sorted(r["index"] for r in receipts) == list(range(24))
    with session_scope(engine, readonly=True) as session:
        entries = audit.entries(session, start=0, end=audit.tree_size(session))
        note = audit.latest_checkpoint(session)
    assert note is not None
    assert len(entries) == 24
    verify_log(entries, note.note, origin=org.log_signer.name, log=org.log_signer.verifier)
    for entry, receipt in zip(entries, sorted(receipts, key=lambda r: r["index"]), strict=True):
        assert base64.b64decode(receipt["entry"]) == entry
