"""Database fixtures for the end-to-end tests (see tests/db.py)."""

from tests.db import db_settings, db_url, engine, postgresql, sqlite_template

__all__ = ["db_settings", "db_url", "engine", "postgresql", "sqlite_template"]
