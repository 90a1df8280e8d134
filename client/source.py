"""The source's side of the wire (docs/submissions.md): JSON calls whose refusals keep
their status, and payload chunks uploaded as raw bytes.

A dropped connection, a server error or a 429 is `DroppedError`, which the uploader retries from the
server's offset; a 409 on a payload chunk is `OffsetMismatchError`, carrying the offset the
server holds; every other refusal is a `RefusedError` with the status and the problem's detail.
"""

from __future__ import annotations

import time
from typing import Any, Final

import httpx

from client.errors import ClientError
from client.http import refusal
from client.logserver import LogServer

#: Tries per request when the connection drops, waiting 0.5 s, 1 s, 2 s ... between them.
RETRIES: Final = 8
BACKOFF_SECONDS: Final = 0.5
MAX_BACKOFF_SECONDS: Final = 30.0


def pause(attempt: int, at_least: float = 0.0) -> None:
    """Wait before try `attempt + 1`: exponential backoff, and at least `at_least` s."""
    time.sleep(max(at_least, min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2**attempt)))


class RefusedError(ClientError):
    """The server refused a request: `status` and the problem's `detail`."""

    def __init__(self, message: str, *, status: int, detail: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class DroppedError(ClientError):
    """The connection failed, the server erred (5xx) or is busy (429): worth retrying,
    not before `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OffsetMismatchError(ClientError):
    """A chunk did not start where the server's payload ends; `received` is where it does."""

    def __init__(self, received: int) -> None:
        super().__init__(f"the server holds {received} bytes of this payload")
        self.received = received


class SourceServer(LogServer):
    """A `LogServer` (checkpoints and proofs) that speaks the source's endpoints."""

    def __enter__(self) -> SourceServer:
        return self

    def call(self, method: str, path: str, body: Any = None, *, auth: bool = False) -> Any:
        """As `Server.call`, but a GET a source sends (the org, its roster, rotations,
        checkpoints, proofs: reads, safe to repeat) is sent again after a drop, as `send`
        does: on a Tor circuit the first request fails as often as any other."""
        if method == "GET" and not auth:
            return self.send(method, path, body)
        return super().call(method, path, body, auth=auth)

    def send(self, method: str, path: str, body: Any = None, *, retry: bool = True) -> Any:
        """One JSON request, sent again after a drop (`pause`) unless `retry` is false (for
        a request that must not be repeated as it was); its decoded answer. Raises
        `RefusedError`, or `DroppedError` once the tries are used up."""
        for attempt in range(RETRIES):
            try:
                return _decoded(self, self._request(method, path, json=body))
            except DroppedError as exc:
                if not retry or attempt == RETRIES - 1:
                    raise
                pause(attempt, exc.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover

    def put_payload(self, submission: str, record: str, *, offset: int, data: bytes) -> int:
        """Upload `data` at `offset` of a record's payload; the bytes the server now holds.

        Raises `OffsetMismatchError` (409 with `received`), `DroppedError` or `RefusedError`.
        """
        response = self._request(
            "PUT",
            f"/submissions/{submission}/records/{record}/payload",
            params={"offset": offset},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if response.status_code == 409:
            problem = _json(response)
            received = problem.get("received") if isinstance(problem, dict) else None
            if isinstance(received, int) and not isinstance(received, bool) and received >= 0:
                raise OffsetMismatchError(received)
        answer = _decoded(self, response)
        try:
            received = answer["received"]
        except (KeyError, TypeError):
            raise ClientError(f"{self.url} sent a malformed answer to a chunk") from None
        if not isinstance(received, int):
            raise ClientError(f"{self.url} sent a malformed answer to a chunk")
        return received

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DroppedError(f"lost the connection to {self.url}: {exc}") from None
        if response.status_code >= 500:
            raise DroppedError(f"{self.url} failed ({response.status_code})")
        if response.status_code == 429:
            raise DroppedError(
                f"{self.url} is busy (429)",
                retry_after=_seconds(response.headers.get("Retry-After")),
            )
        return response


def _seconds(value: str | None) -> float:
    """A `Retry-After` in seconds (an HTTP date counts as a minute), capped at 10 minutes."""
    try:
        return min(600.0, max(0.0, float(value or 0)))
    except ValueError:
        return 60.0


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _decoded(server: SourceServer, response: httpx.Response) -> Any:
    data = _json(response)
    if response.is_success:
        return data
    detail = data.get("detail") if isinstance(data, dict) else None
    raise RefusedError(
        refusal(server.url, response, data), status=response.status_code, detail=detail
    )
