"""Database fixtures for the migration tests (see tests/db.py).

Only the root conftest may declare ``pytest_plugins``; importing the fixtures here
registers them for this directory.
"""

from tests.db import db_settings, db_url, engine, postgresql, sqlite_template

__all__ = ["db_settings", "db_url", "engine", "postgresql", "sqlite_template"]
