"""A tampering reverse proxy: a malicious server, simulated in front of a real one.

`TamperProxy` listens on a loopback port (an ASGI app run by uvicorn in a thread) and
forwards every request, headers and body, to the real `tvault serve` with httpx. A test
points the real CLI at the proxy and registers rewrites: for a method and a path pattern,
a function that gets the upstream's response (`Exchange`) and returns the response the
client should see. What the proxy cannot do is what a malicious server cannot do either:
it holds no key a client trusts.

    with TamperProxy(server.base_url) as proxy:
        proxy.rewrite("GET", r"/v1/records/[^/]+/payload", flip_byte)
        cli.fails("open", record, ..., home="in1")   # against proxy.base_url

Responses are read whole before they are rewritten: the tests move small records.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import uvicorn

from tests.api.conftest import free_port

# Hop-by-hop headers (RFC 9110 section 7.6.1) and those httpx recomputes or has undone:
# the body is forwarded decoded and whole, so its old length and encoding no longer hold.
_DROPPED = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "host",
        "content-length",
        "content-encoding",
    }
)


@dataclass(frozen=True)
class Exchange:
    """One request as the client sent it and the response the upstream gave.

    `upstream` makes another request to the real server with the client's own headers
    (its session included), for a rewrite that serves one record's bytes for another's.
    """

    method: str
    path: str
    query: str
    request_headers: Mapping[str, str]
    request_body: bytes
    status: int
    headers: httpx.Headers
    body: bytes
    upstream: Callable[[str, str], httpx.Response] = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)

    def with_json(self, value: Any) -> Exchange:
        """This response with `value` as its JSON body."""
        return self.with_body(json.dumps(value).encode("utf-8"))

    def with_body(self, body: bytes) -> Exchange:
        return replace(self, body=body)


Rewrite = Callable[[Exchange], Exchange]


@dataclass(frozen=True)
class _Rule:
    method: str
    pattern: re.Pattern[str]
    rewrite: Rewrite


def _forwarded(headers: Iterator[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in headers
        if name.decode("latin-1").lower() not in _DROPPED
    ]


class TamperProxy:
    """A reverse proxy to `upstream` whose responses tests rewrite per method and path.

    Use it as a context manager (it serves between `__enter__` and `__exit__`). Rules
    are tried in the order registered; the first whose method matches and whose pattern
    matches the whole path rewrites the response. `seen` lists every `(method, path)` the
    proxy forwarded, so a test can check a request was (or was not) made.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = free_port()
        # "localhost", like the servers the e2e tests start, so a literal address in any
        # output can only be a leak.
        self.base_url = f"http://localhost:{self.port}"
        self.seen: list[tuple[str, str]] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=self.upstream, timeout=60)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self._app,
                host="127.0.0.1",
                port=self.port,
                access_log=False,
                log_level="warning",
                lifespan="off",
                interface="asgi3",
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    # -- the rules -----------------------------------------------------------------

    def rewrite(self, method: str, pattern: str, rewrite: Rewrite) -> None:
        """Rewrite responses to `method` requests whose path fully matches `pattern`."""
        with self._lock:
            self._rules.append(_Rule(method.upper(), re.compile(pattern), rewrite))

    def rewrite_json(self, method: str, pattern: str, edit: Callable[[Any], Any]) -> None:
        """Rewrite the JSON body of successful responses with `edit(body) -> body`."""

        def rewrite(exchange: Exchange) -> Exchange:
            if exchange.status >= 400:
                return exchange
            return exchange.with_json(edit(exchange.json()))

        self.rewrite(method, pattern, rewrite)

    def clear(self) -> None:
        """Forward everything unchanged again."""
        with self._lock:
            self._rules.clear()

    def _rule_for(self, method: str, path: str) -> Rewrite | None:
        with self._lock:
            for rule in self._rules:
                if rule.method == method and rule.pattern.fullmatch(path):
                    return rule.rewrite
        return None

    # -- serving -------------------------------------------------------------------

    def __enter__(self) -> TamperProxy:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the tampering proxy did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._client.close()

    async def _app(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Any],
        send: Callable[[dict[str, Any]], Any],
    ) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method, path = scope["method"], scope["path"]
        query = scope["query_string"].decode("latin-1")
        exchange = self._forward(
            method, path, query, _forwarded(iter(scope["headers"])), bytes(body)
        )
        rewrite = self._rule_for(method, path)
        if rewrite is not None:
            exchange = rewrite(exchange)
        headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in exchange.headers.multi_items()
            if k.lower() not in _DROPPED
        ]
        headers.append((b"content-length", str(len(exchange.body)).encode("ascii")))
        await send({"type": "http.response.start", "status": exchange.status, "headers": headers})
        await send({"type": "http.response.body", "body": exchange.body})

    def _forward(
        self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Exchange:
        # A blocking call on the event loop: the proxy serves one request at a time, which
        # is all a CLI run needs, and keeps the rewrites free of any async code.
        self.seen.append((method, path))
        url = path + (f"?{query}" if query else "")
        response = self._client.request(method, url, headers=headers, content=body)
        request_headers = dict(headers)

        def upstream(other_method: str, other_path: str) -> httpx.Response:
            return self._client.request(other_method, other_path, headers=request_headers)

        return Exchange(
            method=method,
            path=path,
            query=query,
            request_headers=request_headers,
            request_body=body,
            status=response.status_code,
            headers=response.headers,
            body=response.content,
            upstream=upstream,
        )


def flip_byte(body: bytes, index: int) -> bytes:
    """`body` with the byte at `index` (negative counts from the end) inverted."""
    at = index % len(body)
    return body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1 :]
