"""Fixtures for API tests: an in-process app, and a real server run by `tvault serve`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from vault.settings import Settings, load_settings

# Small, so limit tests need little data.
TEST_BODY_LIMIT = 1024
TVAULT = Path(sys.executable).with_name("tvault")


def chunks(total: int, size: int = 256) -> Iterator[bytes]:
    """`total` bytes in pieces: as content, httpx sends them chunked, with no length."""
    while total > 0:
        yield b"x" * min(size, total)
        total -= size


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path, max_body_bytes=TEST_BODY_LIMIT)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    base_url: str
    output: Path

    def stop(self) -> str:
        """Send SIGTERM, wait for a graceful exit, and return everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        return self.output.read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, output: Path, *extra: str) -> RunningServer:
    """Run the real console script; output goes to a file so no pipe can fill up."""
    port = free_port()
    env = {**os.environ, "TVAULT_MAX_BODY_BYTES": str(TEST_BODY_LIMIT)}
    # "localhost" rather than "127.0.0.1", so that the address appearing anywhere in the
    # output can only mean a client address leaked.
    args = [str(TVAULT), "serve", "--data-dir", str(data_dir), "--host", "localhost"]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*args, "--port", str(port), *extra],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    server = RunningServer(process, f"http://localhost:{port}", output)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"tvault serve exited early ({process.returncode}):\n{output.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.stop()
    pytest.fail(f"tvault serve did not answer within 60 s:\n{output.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for a module's tests that leave it running."""
    base = tmp_path_factory.mktemp("server")
    running = start_server(base / "deep" / "data", base / "server.log")
    yield running
    running.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server for one test alone, e.g. one that stops it and reads all it printed."""
    running = start_server(tmp_path / "data", tmp_path / "server.log")
    yield running
    running.stop()
