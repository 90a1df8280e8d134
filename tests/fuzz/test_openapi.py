"""Schemathesis against the app's own OpenAPI, every operation, as the caller each route is
for: no 5xx, and every answer (status, content type, headers, body) is what the document
says. In process, on SQLite, with a registered org whose admin, intake, caseworker and
auditor are logged in. Deterministic: derandomized, a few examples per operation
(`TVAULT_FUZZ_EXAMPLES` for more)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.generation.case import Case
from sqlmodel import select

from api.app import create_app
from tests.api.test_accounts_routes import Vault
from tests.db import _settings, sqlite_template  # noqa: F401
from tests.fuzz.conftest import STRESS_EXAMPLES
from tests.vault.records.support import seed_record
from vault.accounts import sessions, startup
from vault.db import create_engine, session_scope
from vault.models import Account, EnrolledKey
from vault.settings import load_settings

EXAMPLES = STRESS_EXAMPLES or 4
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]
# The role whose session each path is tried with; a route's own refusal of another role
# is the authorization matrix's business (tests/api/test_authorization_matrix.py).
ROLE_BY_PREFIX = (
    ("/v1/admin", "admin"),
    ("/v1/records", "caseworker"),
    ("/v1/cases", "caseworker"),
    ("/v1/log", "auditor"),
)


def _operations() -> list[str]:
    """Every operation's label, from the document of an app that is never started."""
    app = create_app(load_settings(data_dir=Path("/nonexistent")))
    schema = schemathesis.openapi.from_dict(app.openapi())
    return [result.ok().label for result in schema.get_all_operations()]  # type: ignore[union-attr]


OPERATIONS = _operations()


def test_the_fuzzer_sees_every_operation() -> None:
    assert len(OPERATIONS) > 30, "the schema lost its operations"


@pytest.fixture(scope="module")
def staffed(
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,  # noqa: F811
) -> Iterator[Vault]:
    """One vault for the module: each case gets a fresh session, so no operation the
    fuzzer tries (a logout, a disabled account) takes another's caller away."""
    base = tmp_path_factory.mktemp("fuzz")
    database = base / "vault.sqlite3"
    shutil.copyfile(sqlite_template, database)
    settings_ = _settings(base / "data", f"sqlite:///{database}")
    engine = create_engine(settings_)
    try:
        code = startup.prepare(settings_, engine)
        assert code is not None
        with TestClient(create_app(settings_)) as client:
            vault = Vault(client, code)
            assert vault.register().status_code == 201
            for role in ("intake", "caseworker", "auditor"):
                vault.staff(role)
            yield vault
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def held(staffed: Vault) -> str:
    """A record sealed to the caseworker, so record routes answer more than 404."""
    engine = staffed.client.app.state.engine  # type: ignore[attr-defined]
    with session_scope(engine, readonly=True) as session:
        account = session.exec(select(Account).where(Account.username == "caseworker-user")).one()
        key = session.exec(select(EnrolledKey).where(EnrolledKey.account_id == account.id)).one()
    return seed_record(engine, {account.opaque_id: key.recipient}).id


def _fresh_token(vault: Vault, role: str) -> str:
    """A new session for the role's account: a logout tried by the fuzzer ends only it."""
    username = "root" if role == "admin" else f"{role}-user"
    engine = vault.client.app.state.engine  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        account = session.exec(select(Account).where(Account.username == username)).one()
        assert account.id is not None
        token, _ = sessions.issue(session, account_id=account.id)
    return token


def _role(path: str) -> str:
    return next((role for prefix, role in ROLE_BY_PREFIX if path.startswith(prefix)), "intake")


def _send(vault: Vault, case: Case[Any], role: str) -> Any:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {_fresh_token(vault, role)}"
    kwargs.pop("cookies", None)
    if isinstance(kwargs.get("data"), (bytes, str)):
        kwargs["content"] = kwargs.pop("data")  # raw bytes: httpx's name for them
    return vault.client.request(**kwargs)


def _fuzz(vault: Vault, operation: Any, role: str, held: str) -> None:
    """Run `EXAMPLES` derandomized cases, valid and invalid, against `operation`; a valid
    case names the `held` record half the time (but never deletes it)."""
    deletes = (operation.method.upper(), operation.path) == ("DELETE", "/v1/records/{record_id}")

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data(), mode=st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
    def fuzz(data: st.DataObject, mode: GenerationMode) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        named = mode is GenerationMode.POSITIVE and "record_id" in (case.path_parameters or {})
        if named and not deletes and data.draw(st.booleans()):
            case.path_parameters["record_id"] = held
        case.validate_response(_send(vault, case, role), checks=CHECKS)

    fuzz()


@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_answers_as_its_schema_says(staffed: Vault, held: str, label: str) -> None:
    schema = schemathesis.openapi.from_dict(staffed.client.app.openapi())  # type: ignore[attr-defined]
    operation = schema.find_operation_by_label(label)
    assert operation is not None
    _fuzz(staffed, operation, _role(operation.path), held)
