"""Suite-wide test configuration: Hypothesis profiles and the database engine scaffold.

Hypothesis: the "ci" profile is selected when CI=true, "dev" otherwise;
HYPOTHESIS_PROFILE=name overrides either.

Databases: a test that takes the `database_url` fixture runs once per selected engine,
chosen with `--db sqlite|postgresql|both` (default: both under CI, sqlite otherwise).
Each run gets a database of its own, created empty and dropped afterwards. When
PostgreSQL is selected and cannot be reached, the test fails; it never skips, so a
green run always means both engines were exercised when both were asked for.
"""

from __future__ import annotations

import inspect
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    # CI shares two cores between two xdist workers: a generous deadline keeps slow
    # examples reported without making the run flaky.
    deadline=timedelta(seconds=2),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=25, deadline=timedelta(milliseconds=800))
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev")
)

ENGINES = ("sqlite", "postgresql")
# Trust auth on 127.0.0.1 on the project's machines; override for other setups.
POSTGRESQL_ADMIN_URL = os.environ.get(
    "TVAULT_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> Any:
    """Never collect a library function that a test module imported: project code may
    name things `test_*` (e.g. `crypto.profile.test_profile`), and those are not tests."""
    if inspect.isfunction(obj) and not obj.__module__.startswith("tests"):
        return []
    return None


def pytest_addoption(parser: pytest.Parser) -> None:
    default = "both" if os.environ.get("CI", "").lower() == "true" else "sqlite"
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql", "both"),
        default=os.environ.get("TVAULT_TEST_DB", default),
        help="database engine(s) for tests that take `database_url`",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_engine" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db")
        engines = ENGINES if chosen == "both" else (chosen,)
        metafunc.parametrize("db_engine", engines)


@pytest.fixture
def database_url(db_engine: str, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL for a fresh, empty database of the selected engine."""
    if db_engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'vault.sqlite3'}"
        return
    yield from _fresh_postgresql_database()


def _fresh_postgresql_database() -> Iterator[str]:
    import psycopg  # only tests that use PostgreSQL pay for the import
    from psycopg import sql

    name = f"tvault_test_{uuid.uuid4().hex}"
    try:
        admin = psycopg.connect(POSTGRESQL_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL was selected but is unreachable at {POSTGRESQL_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        base = POSTGRESQL_ADMIN_URL.rsplit("/", 1)[0]
        try:
            yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
