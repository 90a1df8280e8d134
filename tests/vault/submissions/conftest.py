"""Database fixtures for the submission tests (see tests/db.py)."""

from tests.db import db_settings, db_url, engine, postgresql, sqlite_template

__all__ = ["db_settings", "db_url", "engine", "postgresql", "sqlite_template"]
