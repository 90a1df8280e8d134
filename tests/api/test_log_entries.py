"""`GET /v1/log/entries`: pages of entries for auditors and admins; anyone else is refused,
and a staff member's refusal is itself logged. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy.engine import Engine

from api.log import MAX_ENTRIES_PAGE, NOT_AN_AUDITOR
from tests.api.test_accounts_routes import Vault, _problem, staffed, vault
from tests.db import db_settings, db_url, engine, postgresql, sqlite_template
from vault.audit import entries, tree_size
from vault.db import session_scope

__all__ = ["db_settings", "db_url", "engine", "postgresql", "sqlite_template", "staffed", "vault"]


def _stored(engine: Engine) -> list[bytes]:
    with session_scope(engine, readonly=True) as session:
        return entries(session, start=0, end=tree_size(session))


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditors_and_admins_page_through_the_entries(
    staffed: Vault, engine: Engine, role: str
) -> None:
    stored = _stored(engine)
    assert len(stored) > 5
    got: list[bytes] = []
    for start in range(0, len(stored), 4):
        response = staffed.client.get(
            "/v1/log/entries", params={"start": start, "end": start + 4}, headers=staffed.as_(role)
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert (page["start"], page["end"]) == (start, start + 4)
        got += [base64.b64decode(entry) for entry in page["entries"]]
    # Reading entries logs nothing: the pages match what was stored before the first read.
    assert got == stored


def test_anonymous_callers_get_401_and_no_entry_of_their_own(
    staffed: Vault, engine: Engine
) -> None:
    """Anonymous refusals are counted per interval, never logged one by one (DESIGN.md
    section 2): the request itself appends nothing."""
    before = _stored(engine)
    response = staffed.client.get("/v1/log/entries", params={"start": 0, "end": 1})
    _problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert _stored(engine) == before


@pytest.mark.parametrize("role", ["intake", "caseworker"])
def test_other_roles_get_403_and_the_refusal_is_logged(
    staffed: Vault, engine: Engine, role: str
) -> None:
    before = _stored(engine)
    response = staffed.client.get(
        "/v1/log/entries", params={"start": 0, "end": 1}, headers=staffed.as_(role)
    )
    _problem(response, 403)
    after = _stored(engine)
    assert after[: len(before)] == before
    (refusal,) = (json.loads(entry) for entry in after[len(before) :])
    assert refusal["action"] == "refused"
    assert refusal["reason"] == NOT_AN_AUDITOR
    assert refusal["actor"] not in ("anonymous", "unknown", f"{role}-user")


@pytest.mark.parametrize(
    ("start", "end"),
    [(5, 4), (0, MAX_ENTRIES_PAGE + 1), (-1, 2), (0, 2**63)],
    ids=["reversed", "page-too-large", "negative", "beyond-int64"],
)
def test_impossible_ranges_are_problems(staffed: Vault, start: int, end: int) -> None:
    response = staffed.client.get(
        "/v1/log/entries", params={"start": start, "end": end}, headers=staffed.as_("auditor")
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_range_beyond_the_log_returns_what_there_is(staffed: Vault, engine: Engine) -> None:
    size = len(_stored(engine))
    response = staffed.client.get(
        "/v1/log/entries", params={"start": size - 1, "end": size + 10},
        headers=staffed.as_("auditor"),
    )  # fmt: skip
    assert response.status_code == 200
    assert len(response.json()["entries"]) == 1
