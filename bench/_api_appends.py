"""Appends through the API: failed logins against a real `tvault serve --dev` on SQLite.

Until submissions exist, a failed login is the cheapest request that appends to the log:
each one is a `login.failed` entry committed (WAL, synchronous=FULL) in its own
transaction, after the same dummy Argon2id verify a real login does, here with the --dev
test profile's weak parameters (at production cost Argon2id, not the log, sets the rate).
Every request uses a fresh unknown username, so the per-username back-off never triggers.
The figure is the log behind the whole HTTP path, one durable commit per request: a
floor, not the batched rate.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

TVAULT = Path(sys.executable).with_name("tvault")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tree_size(client: httpx.Client) -> int:
    checkpoint = client.get("/v1/log/checkpoint")
    checkpoint.raise_for_status()
    return int(checkpoint.text.splitlines()[1])


def _wait_until_up(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tvault serve exited early ({process.returncode})")
        try:
            if client.get("/v1/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("tvault serve did not answer within 60 s")


def bench_api_appends(directory: Path, *, requests: int, clients: int = 4) -> float:
    """Failed logins per second (each one log append), from `clients` concurrent clients.

    Checks that the tree grew by exactly `requests` entries, so every request appended.
    """
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    argv = [str(TVAULT), "serve", "--dev", "--data-dir", str(directory / "data")]
    with (directory / "server.log").open("wb") as sink:
        process = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # The weak test KDF profile, so the dummy Argon2id verify does not hide the log.
            env={**os.environ, "TVAULT_KDF_PROFILE": "test"},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            _wait_until_up(client, process)
            before = _tree_size(client)

            def one(n: int) -> None:
                body = {"username": f"nobody-{n}", "password": "wrong", "totp_code": "000000"}
                if client.post("/v1/auth/login", json=body).status_code != 401:
                    raise RuntimeError("a failed login did not answer 401")

            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=clients) as pool:
                list(pool.map(one, range(requests)))
            elapsed = time.perf_counter() - start
            grown = _tree_size(client) - before
            if grown != requests:
                raise RuntimeError(f"{requests} failed logins appended {grown} entries")
            return requests / elapsed
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
