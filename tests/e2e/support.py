"""Shared helpers for the end-to-end tests: the real `tvault` CLI against a real `tvault serve`.

- `serve()` starts `tvault serve --dev` on a free port (extra environment allowed, e.g. a
  small ``TVAULT_MAX_UPLOAD_BYTES``); the `served` fixture (registered in conftest.py, so
  every e2e module has it without an import) runs one on each engine of `db_url`.
- `Cli` runs the console script with its own home per person and checks the exit code.
- `bootstrap_code()` reads the one-time code the server printed; `totp()` makes a code.
- `set_up_org()` builds an org with an admin, an intake caseworker, a second caseworker and
  an auditor, all enrolled, the roster published and everyone logged in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa

from tests.api.conftest import RunningServer, free_port

TVAULT = Path(sys.executable).with_name("tvault")
ADMIN_PASSWORD = "admin canary 91c2 passphrase"
PASSPHRASE = "identity canary 5d0e"
CODE = re.compile(r"one-time bootstrap code: ([A-Z2-7-]+)")


def bootstrap_code(server: RunningServer) -> str:
    """The one-time bootstrap code that `tvault serve` printed on first start."""
    match = CODE.search(server.output.read_text())
    assert match, "tvault serve printed no bootstrap code"
    return match.group(1)


class Cli:
    """The `tvault` console script; each call names the home (one per person) it runs in."""

    def __init__(self, tmp_path: Path, server: str) -> None:
        self.tmp_path = tmp_path
        self.server = server

    def run(self, *args: str, home: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run tvault and require exit code 0."""
        return self._run(args, home, 0, env)

    def fails(self, *args: str, home: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run tvault and require exit code 1 (refused, or a failed check)."""
        return self._run(args, home, 1, env)

    def _run(
        self, args: tuple[str, ...], home: str, expect: int, env: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "TVAULT_PASSPHRASE": PASSPHRASE, **env}
        result = subprocess.run(
            [str(TVAULT), *args, "--home", str(self.tmp_path / home)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=environment,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == expect, result.stdout + result.stderr
        return result

    def json(self, *args: str, home: str, **env: str) -> Any:
        return json.loads(self.run(*args, "--json", home=home, **env).stdout)


def totp(secret: str, step_offset: int) -> str:
    """The TOTP code for `secret`, `step_offset` 30-second steps from now."""
    return str(pyotp.TOTP(secret).at(time.time() + 30 * step_offset))


_totp = totp  # the name the older modules use


def database(db_url: str) -> sa.Engine:
    """An engine on the server's database, to read or (as a malicious server) edit it."""
    return sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))


@contextmanager
def serve(tmp_path: Path, db_url: str, **env: str) -> Iterator[RunningServer]:
    """`tvault serve --dev` on a free port of localhost, with `env` added; stopped on exit.

    Its output goes to ``tmp_path / "server.log"``; the data directory is ``tmp_path / "data"``.
    """
    port = free_port()
    output = tmp_path / "server.log"
    environment = {**os.environ, "TVAULT_DATABASE_URL": db_url, "TVAULT_KDF_PROFILE": "test"}
    environment.update(env)
    args = [str(TVAULT), "serve", "--dev", "--data-dir", str(tmp_path / "data")]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*args, "--host", "localhost", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
        )
    running = RunningServer(process, f"http://localhost:{port}", output)
    deadline = time.monotonic() + 60
    while CODE.search(output.read_text()) is None or "startup complete" not in output.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            running.stop()
            pytest.fail(f"tvault serve did not start:\n{output.read_text()}")
        time.sleep(0.05)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[tuple[RunningServer, str]]:
    """A running `tvault serve --dev` and its database URL, on SQLite and on PostgreSQL."""
    with serve(tmp_path, db_url) as running:
        yield running, db_url
