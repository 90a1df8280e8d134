"""Database fixtures: each test gets a database of its own, on SQLite and on PostgreSQL.

Take `db_url` for an empty database, or `engine` for a migrated one with the vault's
settings in `db_settings`. Both are parametrized over the two engines, so one test body
runs on each: ``test_x[sqlite]`` and ``test_x[postgresql]``.

- SQLite: a file under the test's own `tmp_path`; a migrated one is a copy of a file each
  worker migrates once.
- PostgreSQL: a database with a random name on the server at ``TVAULT_TEST_POSTGRESQL_URL``
  (default ``postgresql://postgres@127.0.0.1:5432/postgres``, trust auth), dropped after
  the test even if connections are still open. Names are random, so xdist workers never
  collide. A migrated database is copied from a template that each worker migrates once.

When PostgreSQL is unreachable the PostgreSQL variant fails, naming the URL; it never
skips, so a green run means both engines ran. ``-m "not postgresql"`` deselects it
explicitly.

Use from a conftest with an explicit import, since only the root conftest may declare
``pytest_plugins``::

    from tests.db import db_settings, db_url, engine, postgresql, sqlite_template  # noqa: F401
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import Engine, make_url

from vault.db import create_engine, migrate
from vault.settings import Settings, load_settings, prepare_data_dir

POSTGRESQL_ADMIN_URL = os.environ.get(
    "TVAULT_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ENGINES = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql))
_PREFIX = "tvault_test_"


class PostgreSQL:
    """Creates and drops throwaway databases on one PostgreSQL server."""

    def __init__(self, admin_url: str, *, scratch: Path) -> None:
        self.admin_url = admin_url
        self._scratch = scratch
        try:
            self._admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            pytest.fail(
                f"the PostgreSQL variant needs a server at {admin_url} "
                f"(set TVAULT_TEST_POSTGRESQL_URL to use another): {exc}".strip(),
                pytrace=False,
            )
        self._template: str | None = None

    def url_of(self, name: str) -> str:
        """The SQLAlchemy URL of database `name` on this server."""
        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def create(self, *, template: str | None = None) -> str:
        """Create an empty database (or a copy of `template`) and return its name."""
        name = f"{_PREFIX}{uuid.uuid4().hex}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self._admin.execute(statement)
        return name

    def drop(self, name: str) -> None:
        self._admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def migrated_template(self) -> str:
        """A database at ``alembic head`` to copy from, made once per worker."""
        if self._template is None:
            name = self.create()
            settings = _settings(self._scratch, self.url_of(name))
            engine = create_engine(settings)
            try:
                migrate(settings, engine=engine)
            finally:
                engine.dispose()  # CREATE DATABASE ... TEMPLATE needs it unused
            self._template = name
        return self._template

    def close(self) -> None:
        if self._template is not None:
            self.drop(self._template)
        self._admin.close()


def _settings(data_dir: Path, url: str) -> Settings:
    settings = load_settings(data_dir=data_dir, database_url=url, dev=True, kdf_profile="test")
    prepare_data_dir(settings)
    return settings


@pytest.fixture(scope="session")
def postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgreSQL]:
    """This worker's connection to the test PostgreSQL server; fails if it is unreachable."""
    server = PostgreSQL(POSTGRESQL_ADMIN_URL, scratch=tmp_path_factory.mktemp("postgresql"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at ``alembic head`` to copy from, made once per worker."""
    scratch = tmp_path_factory.mktemp("sqlite")
    path = scratch / "template.sqlite3"
    settings = _settings(scratch / "data", f"sqlite:///{path}")
    engine = create_engine(settings)
    try:
        migrate(settings, engine=engine)
    finally:
        engine.dispose()  # the last connection to close folds the WAL into the file
    return path


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database of the engine in ``request.param``."""
    yield from _database(request, tmp_path, migrated=False)


@pytest.fixture(params=ENGINES)
def db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Dev settings (test KDF profile) whose database is new and already migrated."""
    for url in _database(request, tmp_path, migrated=True):
        yield _settings(tmp_path / "data", url)


@pytest.fixture
def engine(db_settings: Settings) -> Iterator[Engine]:
    """An engine on the migrated database of `db_settings`, disposed afterwards."""
    engine = create_engine(db_settings)
    try:
        yield engine
    finally:
        engine.dispose()


def _database(request: pytest.FixtureRequest, tmp_path: Path, *, migrated: bool) -> Iterator[str]:
    kind: Any = request.param
    if kind == "sqlite":
        path = tmp_path / "vault.sqlite3"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
            path.chmod(0o600)
        yield f"sqlite:///{path}"
        return
    server: PostgreSQL = request.getfixturevalue("postgresql")
    template = server.migrated_template() if migrated else None
    name = server.create(template=template)
    try:
        yield server.url_of(name)
    finally:
        server.drop(name)
