"""Fixtures for the record tests: a migrated database (tests/db.py) with an org, an intake
and a caseworker account, a colleague, and an admin and an auditor who hold nothing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine

from tests.db import db_settings, db_url, engine, postgresql, sqlite_template
from tests.vault.records.support import Staff, make_org, make_staff
from vault.models import Role

__all__ = ["db_settings", "db_url", "engine", "postgresql", "sqlite_template"]


@dataclass(frozen=True)
class Team:
    intake: Staff
    caseworker: Staff
    colleague: Staff
    admin: Staff
    auditor: Staff


@pytest.fixture
def team(engine: Engine) -> Team:
    make_org(engine)
    return Team(
        intake=make_staff(engine, "intake-user", Role.INTAKE),
        caseworker=make_staff(engine, "caseworker-user", Role.CASEWORKER),
        colleague=make_staff(engine, "colleague-user", Role.CASEWORKER),
        admin=make_staff(engine, "admin-user", Role.ADMIN),
        auditor=make_staff(engine, "auditor-user", Role.AUDITOR),
    )
