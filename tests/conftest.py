"""Suite-wide test configuration.

Hypothesis: the "ci" profile is selected when CI=true, "dev" otherwise;
HYPOTHESIS_PROFILE=name overrides either.

Databases: `tests/db.py` gives each test a database of its own on SQLite and on
PostgreSQL (the `postgresql` marker, registered in pyproject.toml, marks the second).
PostgreSQL missing is a failure, never a skip; `-m "not postgresql"` deselects it.
"""

from __future__ import annotations

import inspect
import os
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    # CI shares two cores between two xdist workers: a generous deadline keeps slow
    # examples reported without making the run flaky.
    deadline=timedelta(seconds=2),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=25, deadline=timedelta(milliseconds=800))
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev")
)


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> Any:
    """Never collect a library function that a test module imported: project code may
    name things `test_*` (e.g. `crypto.profile.test_profile`), and those are not tests."""
    if inspect.isfunction(obj) and not obj.__module__.startswith("tests"):
        return []
    return None
