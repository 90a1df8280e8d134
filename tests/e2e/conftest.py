"""Fixtures for the end-to-end tests: the databases (see tests/db.py) and `served`, a real
`tvault serve --dev` on each engine (see tests/e2e/support.py)."""

from tests.db import db_settings, db_url, engine, postgresql, sqlite_template
from tests.e2e.support import served, staffed

__all__ = ["db_settings", "db_url", "engine", "postgresql", "served", "sqlite_template", "staffed"]
