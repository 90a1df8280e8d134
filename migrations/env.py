"""Alembic environment for the vault's schema.

The database comes from, in order: a connection handed over by `vault.db.migrate`
(``config.attributes["connection"]``), ``alembic -x url=...``, ``sqlalchemy.url`` in the
Alembic configuration, or the vault's settings (``TVAULT_DATABASE_URL``, else the SQLite
file under ``TVAULT_DATA_DIR``). Engines come from `vault.db.create_engine`, so migrations
run with the same pragmas and ``BEGIN IMMEDIATE`` as the server: on both engines an
upgrade is one transaction, applied whole or not at all.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from vault.db import MIGRATION_LOCK_KEY, create_engine
from vault.models import metadata
from vault.settings import Settings, load_settings

config = context.config
if config.config_file_name is not None:
    # Keep loggers configured before us (a test run's, the server's) working.
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _settings() -> Settings:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    return load_settings(database_url=url) if url else load_settings()


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Workers starting together queue here; the second finds the schema current.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters most things only by rebuilding the table; batch mode does that.
        render_as_batch=True,
        # DDL is transactional on SQLite too once pysqlite stops managing transactions.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=_settings().engine_url(),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = create_engine(_settings())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
