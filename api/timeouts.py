"""Slow clients are cut off, so a few hundred of them cannot hold the server's connections.

uvicorn bounds the idle time between requests (`timeout_keep_alive`) but neither how long
a request's headers may take nor how slowly its body may come. Two pieces bound them,
both from `Settings.slow_client_seconds` (call it T):

- `TimedHttpProtocol` (uvicorn's httptools protocol, given to uvicorn by `api.server`): a
  connection must complete each request's headers within T of its first byte (of the
  connection, for the first request). Else it is closed without an answer. Headers
  larger than `MAX_HEADER_BYTES` are answered 431 and the connection closed.
- `BodyTimeout` (ASGI middleware, in every app): a body that sends nothing for T, or
  that averages less than `MIN_BODY_RATE` bytes a second once T has passed, is answered
  408 and the connection closed. A source on a slow Tor circuit still moves far more.

Neither keeps anything about the client: a timer per connection, a clock per request.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.problems import problem_response

#: Bytes a second a body must average once `slow_client_seconds` have passed.
MIN_BODY_RATE = 1024
#: Most bytes a request line and its headers may take (uvicorn's bound with h11 was the same).
MAX_HEADER_BYTES = 16 * 1024


class _TooSlow(Exception):  # noqa: N818 - a signal between the wrapper and the middleware
    pass


class _HeadersTooLarge(Exception):  # noqa: N818 - a signal from a parser callback
    pass


class BodyTimeout:
    """Answer 408 (and close) to a request whose body stalls or trickles (see the module)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._timed(receive), tracked_send)
        except _TooSlow:
            if started:
                raise  # uvicorn closes a connection whose answer was cut short
            response = problem_response(
                408,
                f"The request body came too slowly: it may pause for at most "
                f"{self.seconds:g} s and must then average {MIN_BODY_RATE} bytes a second.",
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)

    def _timed(self, receive: Receive) -> Receive:
        begun = time.monotonic()
        received = 0
        done = False

        async def timed() -> Message:
            nonlocal received, done
            if done:  # the body is complete: what follows is a disconnect, wait for it
                return await receive()
            try:
                # A timeout around the await, not `wait_for`: on Python 3.11 that wraps
                # every receive in a task of its own.
                async with asyncio.timeout(self.seconds):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                done = not message.get("more_body", False)
                elapsed = time.monotonic() - begun
                if not done and elapsed > self.seconds and received < MIN_BODY_RATE * elapsed:
                    raise _TooSlow
            return message

        return timed


class TimedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request headers take longer
    than `header_seconds` (`slow_client_seconds`, read from the app's settings when the
    server is built), and refusing headers larger than `MAX_HEADER_BYTES` with 431.

    Two counts hold the headers to the bound. The request line and headers the parser hands
    over are counted as they come, so a read that carries them all is checked too. And the
    bytes read while a request's headers are open (from the first byte after the previous
    message, or the connection's first, until the parser has them all) are counted by
    whole reads: the parser keeps a header's partial name and value until it ends, so
    without this a fast client could grow one header for `header_seconds`. A read that also
    carries the start of the body counts against the headers only if they are still open
    after it. uvicorn's httptools protocol bounds neither.
    """

    header_seconds: float = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._message_open = False  # between the parser's message begin and complete
        self._headers_open = False  # between its message begin and headers complete
        self._header_bytes = 0  # read while the headers are open
        self._parsed_bytes = 0  # of the request line and headers parsed
        self._headers_too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        awaiting = self._awaiting_headers()
        if awaiting:
            if self._header_timer is None:
                self._arm()  # the first byte of another request on a kept-alive connection
            self._header_bytes += len(data)
        super().data_received(data)
        if awaiting and self._awaiting_headers() and self._header_bytes > MAX_HEADER_BYTES:
            self._refuse_large_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._message_open = self._headers_open = True
        self._parsed_bytes = 0
        if self._header_timer is None:
            self._arm()  # a request pipelined behind another, in the same read

    def on_url(self, url: bytes) -> None:
        self._parsed(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._parsed(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._headers_open = False
        self._header_bytes = 0
        # The headers are in: BodyTimeout watches the body, and however long the answer
        # takes (a large payload to a slow reader) the connection is not cut off.
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._message_open = False
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _parsed(self, size: int) -> None:
        """Count `size` bytes of a request line or header, parsed from a single read too."""
        self._parsed_bytes += size
        if self._parsed_bytes > MAX_HEADER_BYTES:
            self._headers_too_large = True
            raise _HeadersTooLarge  # the parser fails; uvicorn answers with send_400_response

    def send_400_response(self, msg: str) -> None:
        if self._headers_too_large:
            self._refuse_large_headers()
        else:
            super().send_400_response(msg)

    def _awaiting_headers(self) -> bool:
        """Whether the bytes that come next belong to a request's headers."""
        return self._headers_open or not self._message_open

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_large_headers(self) -> None:
        """Answer 431 and close: nothing was answered to this request, its headers being
        incomplete."""
        self._disarm()
        if self.transport.is_closing():
            return
        response = problem_response(
            431, f"The request line and headers may take at most {MAX_HEADER_BYTES} bytes."
        )
        head = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        head += [name + b": " + value + b"\r\n" for name, value in response.raw_headers]
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + response.body)
        self.transport.close()


def timed_protocol(seconds: float) -> type[TimedHttpProtocol]:
    """A `TimedHttpProtocol` class giving headers `seconds`, for uvicorn's `http` option."""
    return type("TimedHttpProtocol", (TimedHttpProtocol,), {"header_seconds": seconds})
