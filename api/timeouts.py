"""Slow clients are cut off, so a few hundred of them cannot hold the server's connections.

uvicorn bounds the idle time between requests (`timeout_keep_alive`) but neither how long
a request's headers may take nor how slowly its body may come. Two pieces bound them,
both from `Settings.slow_client_seconds` (call it T):

- `TimedH11Protocol` (uvicorn's h11 protocol, given to uvicorn by `api.server`): a
  connection must complete each request's headers within T of its first byte (of the
  connection, for the first request). Else it is closed without an answer.
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
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.problems import problem_response

#: Bytes a second a body must average once `slow_client_seconds` have passed.
MIN_BODY_RATE = 1024


class _TooSlow(Exception):  # noqa: N818 - a signal between the wrapper and the middleware
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


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers take longer than
    `slow_client_seconds` (read from the app's settings when the server is built)."""

    header_seconds: float = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._between_requests():
            self._arm()  # the first byte of another request on a kept-alive connection
        super().data_received(data)
        if not self._between_requests():
            self._disarm()  # the headers are in; BodyTimeout watches the body

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

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


def timed_protocol(seconds: float) -> type[TimedH11Protocol]:
    """A `TimedH11Protocol` class giving headers `seconds`, for uvicorn's `http` option."""
    return type("TimedH11Protocol", (TimedH11Protocol,), {"header_seconds": seconds})
