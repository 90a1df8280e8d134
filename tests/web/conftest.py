"""Fixtures for the source page's tests: the databases (tests/db.py) and a staffed org on a
real `tvault serve --dev` (tests/e2e/support.py)."""

from tests.db import db_settings, db_url, engine, postgresql, sqlite_template
from tests.e2e.support import served, staffed

__all__ = ["db_settings", "db_url", "engine", "postgresql", "served", "sqlite_template", "staffed"]
