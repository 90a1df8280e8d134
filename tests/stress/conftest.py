"""Fixtures for the stress tests: the databases of tests/db.py, on SQLite and PostgreSQL."""

from tests.db import db_url, postgresql, sqlite_template

__all__ = ["db_url", "postgresql", "sqlite_template"]
