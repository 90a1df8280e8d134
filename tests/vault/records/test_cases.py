"""`vault.records.cases`: a caseworker's own cases, listing only records still held."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.vault.records.conftest import Team
from tests.vault.records.support import LOG_SIGNER, log_entries, log_size, seed_record
from vault.audit import Action
from vault.errors import Forbidden, Invalid, NotFound
from vault.records import NOT_A_HOLDER, Cases, Records


@pytest.fixture
def cases(engine: Engine) -> Cases:
    return Cases(engine)


def test_a_case_lists_the_records_filed_and_still_held(
    engine: Engine, cases: Cases, team: Team
) -> None:
    first = seed_record(engine, {team.intake.id: team.intake.recipient})
    second = seed_record(
        engine,
        {team.intake.id: team.intake.recipient, team.caseworker.id: team.caseworker.recipient},
    )
    case_id = cases.create(team.caseworker.account, sealed=b"sealed metadata")
    before = log_size(engine)
    assert cases.add(team.caseworker.account, case_id, record_id=second.id) is True
    assert cases.add(team.caseworker.account, case_id, record_id=second.id) is False
    assert log_size(engine) == before  # filing changes no one's access: not logged
    (case,) = cases.owned_by(team.caseworker.account)
    assert (case.id, case.sealed, case.records) == (case_id, b"sealed metadata", [second.id])
    assert cases.owned_by(team.intake.account) == []
    Records(engine).revoke(team.intake.account, second.id, target=team.caseworker.id)
    (case,) = cases.owned_by(team.caseworker.account)
    assert case.records == []
    with pytest.raises(NotFound):
        cases.add(team.caseworker.account, case_id, record_id=first.id)
    (refused,) = log_entries(engine, log_size(engine) - 1)
    assert (refused.action, refused.reason) == (Action.REFUSED, NOT_A_HOLDER)


def test_a_case_is_its_creators_alone(engine: Engine, cases: Cases, team: Team) -> None:
    shared = seed_record(
        engine,
        {team.intake.id: team.intake.recipient, team.caseworker.id: team.caseworker.recipient},
    )
    case_id = cases.create(team.intake.account, sealed=b"mine")
    with pytest.raises(NotFound):
        cases.add(team.caseworker.account, case_id, record_id=shared.id)
    with pytest.raises(NotFound):
        cases.add(team.caseworker.account, "B" * 26, record_id=shared.id)
    Records(engine).fetch_header(team.intake.account, shared.id, signer=LOG_SIGNER)
    assert cases.owned_by(team.intake.account)[0].records == []


def test_cases_are_for_recipients_and_bounded(cases: Cases, team: Team) -> None:
    with pytest.raises(Forbidden):
        cases.create(team.admin.account, sealed=b"x")
    with pytest.raises(Forbidden):
        cases.owned_by(team.auditor.account)
    with pytest.raises(Invalid):
        cases.create(team.intake.account, sealed=b"")
    with pytest.raises(Invalid):
        cases.create(team.intake.account, sealed=bytes(64 * 1024 + 1))
