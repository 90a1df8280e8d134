"""`/v1/cases` over HTTP, on SQLite and PostgreSQL: a caseworker's own cases, listing only
the records they hold."""

from __future__ import annotations

import pytest

from tests.api.test_accounts_routes import _b64, _problem, vault
from tests.api.test_records import Desk, desk
from tests.db import db_settings, db_url, engine, postgresql, sqlite_template  # noqa: F401
from tests.vault.records.support import log_size

__all__ = ["desk", "vault"]  # the fixtures, imported for this module's tests


def _create(desk: Desk, who: str, sealed: bytes = b"sealed case") -> str:
    response = desk.request("POST", "/cases", who, json={"sealed": _b64(sealed)})
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    return case_id


def test_a_case_files_held_records_and_lists_them(desk: Desk) -> None:
    case_id = _create(desk, "intake")
    before = log_size(desk.engine)
    body = {"record": desk.report.id}
    first = desk.request("POST", f"/cases/{case_id}/records", "intake", json=body)
    assert (first.status_code, first.json()) == (201, {"added": True})
    again = desk.request("POST", f"/cases/{case_id}/records", "intake", json=body)
    assert (again.status_code, again.json()) == (200, {"added": False})
    assert log_size(desk.engine) == before
    listed = desk.request("GET", "/cases", "intake").json()
    assert listed == [{"id": case_id, "sealed": _b64(b"sealed case"), "records": [desk.report.id]}]
    assert desk.request("GET", "/cases", "caseworker").json() == []


def test_a_record_not_held_cannot_be_filed(desk: Desk) -> None:
    case_id = _create(desk, "caseworker")
    body = {"record": desk.report.id}
    _problem(desk.request("POST", f"/cases/{case_id}/records", "caseworker", json=body), 404)
    # Nor into someone else's case, even a record one holds.
    theirs = _create(desk, "intake")
    grant = desk.grant_body("intake", "caseworker")
    assert desk.request(
        "POST", f"/records/{desk.report.id}/grants", "intake", json=grant
    ).is_success
    _problem(desk.request("POST", f"/cases/{theirs}/records", "caseworker", json=body), 404)


@pytest.mark.parametrize(
    "body",
    [{"sealed": ""}, {"sealed": "not base64!"}, {"sealed": _b64(bytes(64 * 1024 + 1))}, {}],
    ids=["empty", "not-base64", "too-large", "missing"],
)
def test_bad_case_metadata_is_422(desk: Desk, body: dict[str, str]) -> None:
    _problem(desk.request("POST", "/cases", "intake", json=body), 422)
    assert desk.request("GET", "/cases", "intake").json() == []
