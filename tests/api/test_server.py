"""The real server, started through the `tvault serve` console script on a free port."""

from __future__ import annotations

import signal
import socket
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.api.conftest import TEST_BODY_LIMIT, TVAULT, RunningServer, chunks


def test_health_over_http(server: RunningServer) -> None:
    response = httpx.get(f"{server.base_url}/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "server" not in response.headers  # no software banner


def test_body_limits_hold_over_real_http(server: RunningServer) -> None:
    declared = httpx.post(f"{server.base_url}/v1/health", content=b"x" * (TEST_BODY_LIMIT + 1))
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    chunked = httpx.post(f"{server.base_url}/v1/health", content=chunks(TEST_BODY_LIMIT * 100))
    assert chunked.status_code == 413
    within = httpx.post(f"{server.base_url}/v1/health", content=chunks(TEST_BODY_LIMIT))
    assert within.status_code == 405  # passed the limit, then met the route's method check


def _send_garbage(base_url: str) -> None:
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        sock.recv(4096)


def test_no_client_address_ever_reaches_the_output(own_server: RunningServer) -> None:
    """DESIGN.md section 2: no IP address is stored anywhere, logs included."""
    server = own_server
    httpx.get(f"{server.base_url}/v1/health")
    httpx.get(f"{server.base_url}/v1/missing")
    httpx.post(f"{server.base_url}/v1/health", content=b"x" * (TEST_BODY_LIMIT + 1))
    _send_garbage(server.base_url)
    output = server.stop()
    # A graceful shutdown: uvicorn finishes, then re-raises SIGTERM for the supervisor.
    assert server.process.returncode == -signal.SIGTERM, output
    assert "Application startup complete" in output  # the log was captured at all
    assert "Finished server process" in output
    assert "127.0.0.1" not in output
    assert "GET /v1" not in output  # no access log


def test_data_dir_is_created_private(server: RunningServer) -> None:
    # The fixture's data dir did not exist, nor did its parent.
    data_dir = server.output.parent / "deep" / "data"
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_taken_port_fails_with_exit_1(server: RunningServer, tmp_path: Path) -> None:
    port = str(urlsplit(server.base_url).port)
    args = ["serve", "--data-dir", str(tmp_path / "d2"), "--host", "localhost", "--port", port]
    result = subprocess.run(
        [str(TVAULT), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result.stdout + result.stderr
