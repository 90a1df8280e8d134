"""Request-body bounds, enforced below every route, and rate limits for anonymous routes.

`BodyLimit` is pure ASGI middleware. A declared Content-Length above the limit is refused
before any body is read; a body without one (chunked transfer coding) is read up to the
limit and refused as soon as it exceeds it. A body within the limit is buffered (so memory
per request is bounded by the limit) and replayed to the application unchanged. A few
routes have their own limit (`Override`): a payload chunk may be up to
`max_chunk_bytes`, far above the 1 MiB every other body gets.

`RateLimits` keeps one token bucket per anonymous route, in memory. It never keys on the
caller: the address is erased before any route sees it (`api.privacy`), and a source must
not be told apart from another by anything the server keeps.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response
from vault.submissions.errors import Busy


@dataclass(frozen=True, slots=True)
class Override:
    """Requests of `method` whose path matches `path` (a full match) get `max_bytes`.

    With `streamed`, a body whose Content-Length is within the limit goes to the route
    unbuffered, so a large chunk is held once (by the route), not twice; the server
    refuses a body longer than its declared length, and the route reads it all anyway.
    """

    method: str
    path: re.Pattern[str]
    max_bytes: int
    streamed: bool = False


class BodyLimit:
    """Refuse with 413 problem+json any HTTP request whose body exceeds its limit:
    `max_bytes`, or the first matching override's."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, overrides: Sequence[Override] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = tuple(overrides)

    def _limit(self, scope: Scope) -> tuple[int, bool]:
        for override in self.overrides:
            if scope["method"] == override.method and override.path.fullmatch(scope["path"]):
                return override.max_bytes, override.streamed
        return self.max_bytes, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, streamed = self._limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit)
            return
        if streamed and declared is not None:
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # the client went away; let the app see the disconnect
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(buffered, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        # Close the connection: the rest of the body stays unread.
        response = problem_response(
            413,
            f"The request body exceeds the limit of {limit} bytes.",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server already refuses a malformed length
    return None


def _replay(buffered: list[Message], receive: Receive) -> Receive:
    # Popped from the one list, not a copy: a message the app has read is freed, so a
    # large chunk is not held twice while the route works on it.
    async def replay() -> Message:
        if buffered:
            return buffered.pop(0)
        return await receive()

    return replay


class RateLimits:
    """One token bucket per name: `rate` requests a second on average, `burst` at once.

    Thread-safe. `take(name)` raises `Busy` (429, with Retry-After) when the bucket
    is empty. The buckets are global to the process, not per caller: see the module.
    """

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, name: str) -> None:
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(name, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens < 1:
                self._buckets[name] = (tokens, now)
                raise Busy(max(1, math.ceil((1 - tokens) / self._rate)))
            self._buckets[name] = (tokens - 1, now)
