"""Fixtures for the browser tests (issue 7): headless Debian Chromium driven by Playwright
against a real `tvault serve --dev` on SQLite, with a staffed org (tests/e2e/support.py).

- `chromium`: one browser per test session (per xdist worker), Debian's /usr/bin/chromium
  launched by path; Playwright's own browser downloads are never used. Missing, it fails.
  While it is open, Playwright's sync API leaves its event loop marked as running in the
  worker's main thread, so `asyncio.run` fails there for every later test on that worker:
  a test that runs a coroutine runs it on a thread of its own (`_run` in
  tests/vault/submissions/test_batch.py).
- `org`: one staffed org (tests/e2e/support.py `set_up_staff`: admin root, intake in1,
  caseworker cw2) on one `tvault serve --dev`, shared by the session's tests: staffing
  takes the CLI a while. SQLite only (the browser adds nothing that differs between
  engines; the e2e and API suites run both). Its uploads are limited to `MAX_UPLOAD`
  bytes, so a file a little larger is refused while a photo passes.
- `db_url`: a database of the test's own, for a server it starts and stops itself.
- `open_page(locale)`: a phone-sized page in a fresh context whose browser prefers `locale`.
- `shots`: the test's screenshot directory under ``test-artifacts/browser/`` (git-ignored),
  emptied first and printed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.support import MAX_UPLOAD, Shots, SourcePage, launch_chromium
from tests.db import sqlite_template
from tests.e2e.support import Cli, StaffedOrg, serve, set_up_staff

__all__ = ["sqlite_template"]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def _sqlite_copy(template: Path, directory: Path) -> str:
    path = directory / "vault.sqlite3"
    path.write_bytes(template.read_bytes())
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def org(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffedOrg]:
    directory = tmp_path_factory.mktemp("browser-org")
    url = _sqlite_copy(sqlite_template, directory)
    with serve(directory, url, TVAULT_MAX_UPLOAD_BYTES=str(MAX_UPLOAD)) as server:
        yield set_up_staff(Cli(directory, server.base_url), server, url)


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    return _sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def open_page(chromium: Browser, shots: Shots) -> Iterator[Callable[[str], SourcePage]]:
    contexts = []

    def open_page(locale: str) -> SourcePage:
        context = chromium.new_context(
            locale=locale, viewport={"width": 390, "height": 844}, is_mobile=True
        )
        contexts.append(context)
        return SourcePage(context.new_page(), shots)

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots.for_test(ARTIFACTS, request.node.name)
