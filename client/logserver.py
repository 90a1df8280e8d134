"""Reading a vault's audit log over HTTP: the signed checkpoint, proofs and entries.

The client trusts none of it until checked: `client.auditing` verifies the checkpoint
against the log key of a verified roster, and the proofs and entries against it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Final

import httpx

from client.errors import ClientError
from client.http import Server

#: Entries asked for per request; the server's limit (api.log.MAX_ENTRIES_PAGE).
PAGE: Final = 1000


class LogServer(Server):
    """A `Server` that also reads the log's plain-text checkpoint."""

    def __enter__(self) -> LogServer:
        return self

    def checkpoint(self) -> bytes:
        """The latest signed checkpoint note, as served. Raises `ClientError`."""
        try:
            response = self._client.get("/log/checkpoint")
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self.url}: {exc}") from None
        if not response.is_success:
            raise ClientError(f"{self.url} refused the checkpoint ({response.status_code})")
        return response.content

    def consistency(self, *, size1: int, size2: int) -> list[bytes]:
        body = self.call("GET", f"/log/proof/consistency?size1={size1}&size2={size2}")
        return _hashes(body)

    def inclusion(self, *, index: int, tree_size: int) -> list[bytes]:
        body = self.call("GET", f"/log/proof/inclusion?index={index}&tree_size={tree_size}")
        return _hashes(body)

    def entries(self, *, tree_size: int) -> Iterator[bytes]:
        """Entries 0 to `tree_size` (exclusive) as served, page by page. The log needs an
        auditor's or admin's session. A short page is passed on as it is, for the caller's
        replay to judge."""
        for start in range(0, tree_size, PAGE):
            end = min(start + PAGE, tree_size)
            page = self.call("GET", f"/log/entries?start={start}&end={end}", auth=True)
            try:
                yield from (base64.b64decode(entry, validate=True) for entry in page["entries"])
            except (KeyError, TypeError, ValueError):
                raise ClientError(f"{self.url} sent a malformed page of entries") from None


def _hashes(body: object) -> list[bytes]:
    try:
        return [base64.b64decode(node, validate=True) for node in body["hashes"]]  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        raise ClientError("the server sent a malformed proof") from None
