"""Slow clients time out without tying up the server (api.timeouts), on the real server
run by `tvault serve`: twenty clients trickle their headers or their bodies byte by byte;
meanwhile every other request is answered; then the server cuts each of them off (a body
with a 408 problem). Headers beyond `MAX_HEADER_BYTES` are refused with 431. Deadlines
here only stop a hang; nothing asserts how fast."""

from __future__ import annotations

import contextlib
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api.timeouts import MAX_HEADER_BYTES
from tests.api.conftest import RunningServer, start_server

SLOW_CLIENT_SECONDS = 2
ID = "A" * 26
GUARD_SECONDS = 60  # only so that a server that never cuts a client off fails, not hangs


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    monkeypatch.setenv("TVAULT_SLOW_CLIENT_SECONDS", str(SLOW_CLIENT_SECONDS))
    running = start_server(tmp_path / "data", tmp_path / "server.log")
    yield running
    running.stop()


def _trickle(address: tuple[str, int], head: bytes, body: bytes, outcome: dict[str, bytes]) -> None:
    """Send `head` whole if `body` is given, else byte by byte; then `body` byte by byte,
    until the server closes the connection. `outcome["answer"]` is what the server said."""
    answer = b""
    with socket.create_connection(address, timeout=5) as sock:
        if body:
            sock.sendall(head)
        pending = body or head
        deadline = time.monotonic() + GUARD_SECONDS
        while time.monotonic() < deadline:
            try:
                if pending:
                    sock.sendall(pending[:1])
                    pending = pending[1:]
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable:
                    data = sock.recv(65536)
                    if not data:
                        outcome["answer"] = answer
                        return
                    answer += data
            except OSError:  # reset or broken pipe: the server closed it
                outcome["answer"] = answer
                return
    outcome["answer"] = b"STILL OPEN " + answer


def test_slow_clients_are_cut_off_while_others_are_served(server: RunningServer) -> None:
    url = urlsplit(server.base_url)
    address = (str(url.hostname), int(url.port or 80))
    chunk_path = f"/v1/submissions/{ID}/records/{ID}/payload?offset=0"
    clients: list[tuple[str, bytes, bytes]] = []
    for n in range(7):  # headers that never end
        clients.append(
            (
                "headers",
                f"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nX-{n}: ".encode() + b"a" * 400,
                b"",
            )
        )
    for _ in range(5):  # a chunked body, one byte at a time
        head = f"PUT {chunk_path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        clients.append(("chunked", head.encode(), b"1\r\nx\r\n" * 400))
    for _ in range(4):  # a declared length, one byte at a time: buffered by the body limit
        head = "POST /v1/sources/lookup HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n"
        head += "Content-Type: application/json\r\n\r\n"
        clients.append(("declared", head.encode(), b" " * 900))
    for _ in range(4):  # a chunk of declared length: streamed to the route, which reads it
        head = f"PUT {chunk_path} HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n"
        clients.append(("streamed", head.encode(), b"x" * 900))
    outcomes: list[dict[str, bytes]] = [{} for _ in clients]
    threads = [
        threading.Thread(target=_trickle, args=(address, head, body, outcome), daemon=True)
        for (_, head, body), outcome in zip(clients, outcomes, strict=True)
    ]
    for thread in threads:
        thread.start()
    # While all twenty hang on, everyone else is served.
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for _ in range(10):
            assert http.get("/v1/health").status_code == 200
            assert http.post("/v1/tokens").status_code == 201
    for thread in threads:
        thread.join(GUARD_SECONDS + 10)
    for (kind, _, _), outcome in zip(clients, outcomes, strict=True):
        answer = outcome.get("answer", b"STILL OPEN")
        assert not answer.startswith(b"STILL OPEN"), f"a slow {kind} client was never cut off"
        if kind == "headers":
            assert answer == b"", f"answered a request whose headers never came: {answer!r}"
        else:
            assert answer.startswith(b"HTTP/1.1 408 "), f"{kind}: {answer[:200]!r}"
            assert b"application/problem+json" in answer
    assert httpx.get(f"{server.base_url}/v1/health", timeout=30).status_code == 200
    log = server.stop()
    assert "Traceback" not in log, log
    # The server listens on "localhost": a numeric loopback address would be a client's.
    assert "127.0.0.1" not in log, "a client address reached the server's output"
    assert re.search(r"(?<![0-9A-Fa-f:])::1(?![0-9A-Fa-f:])", log) is None  # IPv6 loopback


def _exchange(address: tuple[str, int], request: bytes) -> bytes:
    """Send `request` in one write; everything the server answers until it closes (or
    until it is quiet for a while, on a connection kept alive)."""
    answer = b""
    with socket.create_connection(address, timeout=10) as sock:
        # Refused before it was all sent, the answer may still be there.
        with contextlib.suppress(OSError):
            sock.sendall(request)
        while True:
            try:
                data = sock.recv(65536)
            except OSError:  # quiet (a timeout) or reset
                return answer
            if not data:
                return answer
            answer += data


def test_headers_beyond_the_bound_are_refused_431_and_bodies_are_not_counted(
    server: RunningServer,
) -> None:
    url = urlsplit(server.base_url)
    address = (str(url.hostname), int(url.port or 80))
    big = MAX_HEADER_BYTES + 1
    refused = {
        "one long header": b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: "
        + b"a" * big
        + b"\r\n\r\n",
        "a long URL": b"GET /v1/health?" + b"a" * big + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "many headers": b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: %s\r\n" % (n, b"b" * 60) for n in range(big // 60))
        + b"\r\n",
        "headers that never end": b"GET /v1/health HTTP/1.1\r\nX-Pad: " + b"c" * 4 * big,
    }
    for what, request in refused.items():
        answer = _exchange(address, request)
        assert answer.startswith(b"HTTP/1.1 431 "), f"{what}: {answer[:200]!r}"
        assert b"application/problem+json" in answer
        assert b"connection: close" in answer.lower()
    # A body that arrives in the same read as its headers is the body's, not the headers':
    # a small report with a large body, in one write, is answered by the route.
    body = b'{"pad": "' + b"d" * (4 * MAX_HEADER_BYTES) + b'"}'
    head = b"POST /v1/sources/lookup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    answer = _exchange(address, head + body)
    assert answer.startswith((b"HTTP/1.1 413 ", b"HTTP/1.1 422 ")), answer[:200]
    # Headers just inside the bound, twice on one kept-alive connection, are served.
    near = b"X-Pad: " + b"e" * (MAX_HEADER_BYTES - 200) + b"\r\n"
    request = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" + near + b"\r\n"
    answer = _exchange(address, request + request)
    assert answer.count(b"HTTP/1.1 200 ") == 2, answer[:300]
    log = server.stop()
    assert "Traceback" not in log, log
