"""Fixtures for the scale-out tests: the databases of tests/db.py."""

from tests.db import db_url, postgresql, sqlite_template

__all__ = ["db_url", "postgresql", "sqlite_template"]
