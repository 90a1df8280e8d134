"""Body size limits hold on every route the app serves (walked from `app.routes`, so a new
route is covered the day it lands): a body one byte over the route's limit is refused with
413, whether its length is declared or it comes chunked, before any route sees it; one at
the limit is not refused for its size. The chunk PUT and the submission POSTs have their
own, larger limits (`api.submissions.body_limit_overrides`)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import API_PREFIX, create_app
from api.limits import BodyLimit
from api.problems import PROBLEM_MEDIA_TYPE
from api.submissions import body_limit_overrides
from tests.abuse.test_route_matrix import _routes
from tests.api.conftest import chunks
from tests.db import sqlite_template  # noqa: F401
from vault.accounts import startup
from vault.db import create_engine
from vault.settings import Settings, load_settings, prepare_data_dir

FILL = {"username": "someone"}  # any other path parameter is an id
ID = "A" * 26


@pytest.fixture(scope="module")
def small(
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,  # noqa: F811
) -> Settings:
    """A migrated, started vault on SQLite, with small limits."""
    base = tmp_path_factory.mktemp("limits")
    shutil.copyfile(sqlite_template, base / "vault.sqlite3")
    settings = load_settings(
        data_dir=base / "data",
        database_url=f"sqlite:///{base / 'vault.sqlite3'}",
        dev=True,
        kdf_profile="test",
        max_body_bytes=1024,
        max_chunk_bytes=4096,
        max_report_bytes=2048,
    )
    prepare_data_dir(settings)
    engine = create_engine(settings)
    try:
        startup.prepare(settings, engine)
    finally:
        engine.dispose()
    return settings


@pytest.fixture(scope="module")
def client(small: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(small)) as test_client:
        yield test_client


def _served(settings: Settings) -> list[tuple[str, str]]:
    app = create_app(settings)
    return sorted(
        (method, re.sub(r"\{(\w+)\}", lambda m: FILL.get(m.group(1), ID), template))
        for method, template in set(_routes(app.routes))
        if method != "HEAD"  # HEAD is GET's twin on the one route that has it
    )


def _limit(settings: Settings, method: str, path: str) -> int:
    bounds = BodyLimit(
        lambda *_: None,  # type: ignore[arg-type]
        max_bytes=settings.max_body_bytes,
        overrides=body_limit_overrides(settings, API_PREFIX),
    )
    limit, _ = bounds._limit({"method": method, "path": path})
    return limit


ROUTES = _served(load_settings(data_dir=Path("/nonexistent")))


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_refuses_a_body_over_its_limit(
    client: TestClient, small: Settings, method: str, path: str
) -> None:
    limit = _limit(small, method, path)
    url = path + ("?offset=0" if path.endswith("/payload") else "")
    for body in (b"x" * (limit + 1), chunks(limit + 1)):
        response = client.request(method, url, content=body)
        assert response.status_code == 413, f"{method} {path}: {response.status_code}"
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.headers["connection"] == "close"
    at_limit = client.request(method, url, content=b"x" * limit)
    assert at_limit.status_code != 413, f"{method} {path}: refused at its limit"
