"""The header timeout of `api.timeouts.TimedHttpProtocol`, on a uvicorn server of its own:
it bounds how long a request's headers take, never how long its answer takes."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from api.timeouts import timed_protocol
from tests.api.conftest import free_port

HEADER_SECONDS = 0.3
ANSWER_SECONDS = 3 * HEADER_SECONDS


async def _slow_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers every request, after `ANSWER_SECONDS`."""
    assert scope["type"] == "http"
    await receive()
    await asyncio.sleep(ANSWER_SECONDS)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"answered"})


@pytest.fixture
def address() -> Iterator[tuple[str, int]]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            _slow_app,
            host="127.0.0.1",
            port=port,
            http=timed_protocol(HEADER_SECONDS),
            lifespan="off",
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(30)


def _answers(sock: socket.socket, count: int) -> bytes:
    """Read until `count` answers came or the server closed the connection."""
    received = b""
    while received.count(b"answered") < count:
        data = sock.recv(65536)
        if not data:
            break
        received += data
    return received


def test_an_answer_slower_than_the_header_timeout_is_not_cut_off(
    address: tuple[str, int],
) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(address, timeout=30) as sock:
        # The whole request in one read; then, kept alive, a second one.
        sock.sendall(request)
        assert _answers(sock, 1).startswith(b"HTTP/1.1 200 ")
        sock.sendall(request)
        assert _answers(sock, 1).startswith(b"HTTP/1.1 200 ")


def test_headers_slower_than_the_timeout_are_cut_off(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert _answers(sock, 1) == b""
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _answers(sock, 1).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET / HTTP/1.1\r\n")  # the next request's headers never end
        assert _answers(sock, 1) == b""
