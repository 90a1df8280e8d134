"""100 concurrent logins stay within a stated memory bound, on the real server with the
production Argon2id profile (64 MiB a hash): Argon2id runs at most
`passwords.MAX_CONCURRENT` (4) at once, so the server's peak resident memory (VmHWM)
grows by less than those four hashes plus `MARGIN_MIB` for threads and buffers, however
many logins arrive together (100 unbounded would need 6.4 GiB)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crypto.profile import PRODUCTION
from tests.api.conftest import RunningServer, start_server
from vault.accounts.passwords import MAX_CONCURRENT

LOGINS = 100
MARGIN_MIB = 128
BOUND_MIB = MAX_CONCURRENT * PRODUCTION.password.memory_kib // 1024 + MARGIN_MIB


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "data", tmp_path / "server.log")  # no --dev: production
    yield running
    running.stop()


def _status_mib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) // 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_a_hundred_concurrent_logins_stay_within_the_bound(server: RunningServer) -> None:
    pid = server.process.pid
    with httpx.Client(base_url=server.base_url, timeout=600) as http:
        # One login first, so the idle peak includes what any first request loads.
        assert http.post("/v1/auth/login", json=_login("warm-up")).status_code == 401
    before = _status_mib(pid, "VmHWM")
    statuses: list[int] = []
    start = threading.Barrier(LOGINS)

    def login(n: int) -> None:
        with httpx.Client(base_url=server.base_url, timeout=600) as http:
            start.wait()
            statuses.append(http.post("/v1/auth/login", json=_login(f"guess-{n}")).status_code)

    threads = [threading.Thread(target=login, args=(n,)) for n in range(LOGINS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    peak = _status_mib(pid, "VmHWM")
    print(f"login_memory: idle_peak_mib={before} peak_mib={peak} growth_mib={peak - before}")
    assert statuses == [401] * LOGINS
    assert peak - before <= BOUND_MIB, f"peak grew {peak - before} MiB, bound {BOUND_MIB} MiB"
    # The server listens on "localhost": a numeric loopback address would be a client's.
    log = server.stop()
    assert "127.0.0.1" not in log, "a client address reached the server's output"
    assert re.search(r"(?<![0-9A-Fa-f:])::1(?![0-9A-Fa-f:])", log) is None  # IPv6 loopback


def _login(username: str) -> dict[str, str]:
    return {"username": username, "password": "a password long enough", "totp_code": "000000"}
