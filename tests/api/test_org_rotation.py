"""Org key rotation over HTTP, on SQLite and PostgreSQL: the server registers a statement
signed by the current org key and the new one, logs it in the same transaction, serves the
chain, and from then on accepts only rosters the new key signed. A refused statement is a
problem and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from crypto import note, roster, rotation
from crypto.roster import ORG_KEY_NAME
from tests.api.test_accounts_routes import ORG_KEY, Vault, _problem, _signed_rosters, vault
from tests.db import db_settings, db_url, engine, postgresql, sqlite_template  # noqa: F401
from vault import audit
from vault.accounts.codes import today
from vault.db import session_scope

__all__ = ["vault"]  # the fixture, imported for this module's tests

NEW_KEY = note.Signer.generate(ORG_KEY_NAME)


def _statement(serial: int = 1, old: note.Signer = ORG_KEY, new: note.Signer = NEW_KEY) -> str:
    return rotation.sign_rotation(serial=serial, old=old, new=new, issued=today()).decode()


def _state(vault: Vault) -> tuple[Any, ...]:
    store: Engine = vault.client.app.state.engine  # type: ignore[attr-defined]
    with session_scope(store, readonly=True) as session:
        size = audit.tree_size(session)
    org = vault.client.get("/v1/org").json()
    return size, org["public_key"], vault.client.get("/v1/org/rotations").json()["statements"]


@pytest.fixture
def registered(vault: Vault) -> Vault:
    assert vault.register().status_code == 201
    return vault


def test_a_rotation_is_registered_logged_and_served(registered: Vault) -> None:
    admin = registered.as_("admin")
    statement = _statement()
    response = registered.client.post(
        "/v1/admin/org/rotations", json={"statement": statement}, headers=admin
    )
    assert response.status_code == 201, response.text
    new_fingerprint = roster.fingerprint(NEW_KEY.verifier.public_key)
    assert response.json() == {"serial": 1, "fingerprint": new_fingerprint}
    org = registered.client.get("/v1/org").json()
    assert org["fingerprint"] == new_fingerprint
    assert registered.client.get("/v1/org/rotations").json() == {"statements": [statement]}
    store: Engine = registered.client.app.state.engine  # type: ignore[attr-defined]
    with session_scope(store, readonly=True) as session:
        size = audit.tree_size(session)
        (entry,) = audit.entries(session, start=size - 1, end=size)
    logged = audit.decode_event(entry)
    assert (logged.action, logged.version) == (audit.Action.ORG_KEY_ROTATED, 1)


def test_the_next_roster_must_be_signed_by_the_new_key(registered: Vault) -> None:
    admin = registered.as_("admin")
    registered.client.post(
        "/v1/admin/org/rotations", json={"statement": _statement()}, headers=admin
    )
    old = _signed_rosters(registered.client, 1)
    _problem(registered.client.post("/v1/admin/roster", json=old, headers=admin), 422)
    new = _signed_rosters(registered.client, 1, signer=NEW_KEY)
    response = registered.client.post("/v1/admin/roster", json=new, headers=admin)
    assert response.status_code == 201, response.text


OTHER = note.Signer.generate(ORG_KEY_NAME)


def _forged() -> str:
    return _statement().replace('"serial":1', '"serial":7')


def _unsigned_by_new() -> str:
    opened = note.open_note(_statement().encode(), [ORG_KEY.verifier])
    return note.sign_note(opened.text, [ORG_KEY]).decode()


@pytest.mark.parametrize(
    ("statement", "status", "says"),
    [
        (_forged, 422, "not signed by the org key"),
        (lambda: _statement(old=OTHER), 422, "not signed by the org key"),
        (_unsigned_by_new, 422, "did not sign its own announcement"),
        (lambda: _statement(serial=2), 409, "next rotation serial is 1"),
        (lambda: "not a statement", 422, ""),
    ],
    ids=["forged", "not-by-the-old-key", "not-by-the-new-key", "skips-a-serial",
         "malformed"],
)  # fmt: skip
def test_a_bad_statement_is_refused_and_changes_nothing(
    registered: Vault, statement: Any, status: int, says: str
) -> None:
    admin = registered.as_("admin")
    before = _state(registered)
    body = {"statement": statement()}
    response = registered.client.post("/v1/admin/org/rotations", json=body, headers=admin)
    assert says in _problem(response, status)["detail"]
    assert _state(registered) == before


def test_a_key_the_org_had_before_is_refused(registered: Vault) -> None:
    admin = registered.as_("admin")
    post = registered.client.post
    assert post(
        "/v1/admin/org/rotations", json={"statement": _statement()}, headers=admin
    ).is_success
    back = _statement(serial=2, old=NEW_KEY, new=ORG_KEY)
    before = _state(registered)
    refused = post("/v1/admin/org/rotations", json={"statement": back}, headers=admin)
    assert "was an org key before" in _problem(refused, 422)["detail"]
    assert _state(registered) == before
