"""No endpoint ships unchecked: every route the app serves (walked from `app.routes`) is in
an authorization matrix, and each is tried as every caller of
tests/api/test_authorization_matrix.py (anonymous, each role, a disabled user, an expired
and a revoked session).

That module covers the org, auth, enrol, admin, records and cases routes. The rest are
here: the public ones (health, docs, the log's checkpoint and proofs, and the source's
anonymous routes), which read no session, so a dead one changes nothing and no caller can
be told apart; and the log's entries, for auditors and admins, whose refusal of any other
logged-in account is a `refused` entry naming it. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI

from api.app import create_app
from tests.api.test_accounts_routes import Vault, _problem
from tests.api.test_authorization_matrix import (
    CALLERS,
    DEAD,
    RECORD_ROUTES,
    ROUTES,
    Expect,
    _last_entry,
    _log_size,
    anyone,
    callers,
    vault,
)
from tests.db import db_settings, db_url, engine, postgresql, sqlite_template  # noqa: F401
from vault import audit
from vault.settings import load_settings

__all__ = ["callers", "vault"]  # fixtures, imported for this module's tests

ID = "A" * 26
HEX = "0" * 64


def auditors_and_admins(allowed: int) -> Expect:
    return lambda caller: (
        401
        if caller is None or caller in DEAD
        else allowed
        if caller in ("admin", "auditor")
        else 403
    )


# Each route: method, a concrete path, a body, and what each caller gets. The anonymous
# routes of a source get a well-formed request for something that does not exist: what
# decides the answer is the body or the id, never a session.
PUBLIC_ROUTES: dict[str, tuple[str, str, Any, Expect]] = {
    "openapi": ("GET", "/openapi.json", None, anyone(200)),
    "openapi-head": ("HEAD", "/openapi.json", None, anyone(200)),
    "docs": ("GET", "/docs", None, anyone(200)),
    "docs-assets": ("GET", "/docs/assets/swagger-ui.css", None, anyone(200)),
    "health": ("GET", "/v1/health", None, anyone(200)),
    "source-page": ("GET", "/", None, anyone(200)),
    "checkpoint": ("GET", "/v1/log/checkpoint", None, anyone(200)),
    "inclusion": ("GET", "/v1/log/proof/inclusion?index=0&tree_size=1", None, anyone(200)),
    "consistency": ("GET", "/v1/log/proof/consistency?size1=1&size2=1", None, anyone(200)),
    "entries": ("GET", "/v1/log/entries?start=0&end=1", None, auditors_and_admins(200)),
    "token": ("POST", "/v1/tokens", None, anyone(201)),
    "submit": ("POST", "/v1/submissions", {"pow": {"token": "x", "counter": 0}}, anyone(422)),
    "chunk": ("PUT", f"/v1/submissions/{ID}/records/{ID}/payload?offset=0", b"x", anyone(404)),
    "status": ("GET", f"/v1/submissions/{ID}", None, anyone(404)),
    "complete": ("POST", f"/v1/submissions/{ID}/complete", {}, anyone(422)),
    "lookup": ("POST", "/v1/sources/lookup", {"lookup": HEX}, anyone(422)),
    "followup": ("POST", "/v1/sources/followups", {}, anyone(422)),
}


def _routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, included routers walked."""
    for route in routes:
        context = getattr(route, "include_context", None)
        if context is not None:
            yield from _routes(context.included_router.routes, prefix + context.prefix)
            continue
        for method in sorted(getattr(route, "methods", None) or ["GET"]):  # a mount: GET
            yield method, prefix + route.path


def _matches(template: str, path: str) -> bool:
    pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
    if not template.count("{") and not path.startswith(template):
        return False
    return bool(re.fullmatch(pattern + r"(/.*)?", path.split("?")[0]))


def _record_route_paths() -> Iterator[tuple[str, str]]:
    # The paths the record matrix builds, for a caller holding no record: a stand-in vault
    # whose member list is empty is all they read.
    client = SimpleNamespace(get=lambda *a, **k: SimpleNamespace(json=list))
    stub: Any = SimpleNamespace(client=client, as_=lambda role: {})
    for method, pick, _, _ in RECORD_ROUTES.values():
        yield method, pick(stub, "auditor", ID)


def _checked() -> list[tuple[str, str]]:
    return [
        *((method, path) for method, path, _, _ in ROUTES.values()),
        *_record_route_paths(),
        *((method, path) for method, path, _, _ in PUBLIC_ROUTES.values()),
    ]


def test_every_route_of_the_app_is_in_a_matrix(tmp_path: Path) -> None:
    app: FastAPI = create_app(load_settings(data_dir=tmp_path))
    served = set(_routes(app.routes))
    assert len(served) > 35, "the walk lost routes"
    checked = _checked()
    missing = sorted(
        f"{method} {template}"
        for method, template in served
        if not any(m == method and _matches(template, path) for m, path in checked)
    )
    assert not missing, f"routes in no authorization matrix: {missing}"
    # And nothing in a matrix that the app does not serve (a renamed route).
    stale = [
        f"{m} {path}"
        for m, path in checked
        if not any(method == m and _matches(template, path) for method, template in served)
    ]
    assert not stale, f"matrix entries for no route: {stale}"


@pytest.mark.parametrize("route", PUBLIC_ROUTES)
def test_public_routes_and_the_log_answer_each_caller_as_design_says(
    callers: Vault, route: str
) -> None:
    method, path, body, expect = PUBLIC_ROUTES[route]
    refused_by = {"intake": "intake-user", "caseworker": "caseworker-user"}
    members = callers.client.get("/v1/admin/members", headers=callers.as_("admin")).json()
    ids = {m["username"]: m["id"] for m in members}
    for caller in CALLERS:
        headers = {} if caller is None else {"Authorization": f"Bearer {callers.tokens[caller]}"}
        size = _log_size(callers)
        sent = {"content": body} if isinstance(body, bytes) else {"json": body}
        response = callers.client.request(method, path, headers=headers, **sent)
        status = expect(caller)
        where = f"{route} as {caller or 'anonymous'}"
        if status >= 400 and method != "HEAD":
            _problem(response, status)
        assert response.status_code == status, f"{where}: {response.text}"
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer", where
        if status == 403:
            assert _log_size(callers) == size + 1, f"{where}: the refusal was not logged"
            refused = _last_entry(callers)
            assert refused.action is audit.Action.REFUSED, where
            assert refused.actor == ids[refused_by[str(caller)]], where
        else:  # nothing else these routes do for a caller is an entry of the log
            assert _log_size(callers) == size, f"{where}: logged"
