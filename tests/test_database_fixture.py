"""The per-engine database scaffold in tests/conftest.py: each test gets an empty database
of every selected engine, and PostgreSQL, when selected, is really there."""

from __future__ import annotations

import sqlalchemy as sa


def test_each_test_gets_a_fresh_empty_database(database_url: str, db_engine: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        assert engine.dialect.name == db_engine
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE probe (n INTEGER)"))
            connection.execute(sa.text("INSERT INTO probe VALUES (1)"))
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT n FROM probe")).scalar_one() == 1
    finally:
        engine.dispose()
