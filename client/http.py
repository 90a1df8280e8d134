"""Talking to a vault server: JSON over HTTPS (or a proxy such as Tor), problems as errors."""

from __future__ import annotations

from typing import Any

import httpx

from client.errors import ClientError

TIMEOUT_SECONDS = 60.0


class Server:
    """One server; the caller closes it (use it as a context manager)."""

    def __init__(self, url: str, *, proxy: str | None, token: str | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ClientError(f"{url} is not an http:// or https:// URL")
        self.url = url.rstrip("/")
        self.token = token
        try:
            self._client = httpx.Client(
                base_url=self.url + "/v1", proxy=proxy, timeout=TIMEOUT_SECONDS
            )
        except (ValueError, ImportError) as exc:
            raise ClientError(f"cannot use the proxy {proxy}: {exc}") from None

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    def call(self, method: str, path: str, body: Any = None, *, auth: bool = False) -> Any:
        """Send one request; return the decoded JSON (None for 204).

        Raises `ClientError` with the server's problem detail, or the transport failure.
        """
        headers = {}
        if auth:
            if self.token is None:
                raise ClientError("not logged in; run tvault login first")
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self._client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self.url}: {exc}") from None
        if response.status_code == 204:
            return None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success:
            return data
        raise ClientError(refusal(self.url, response, data))


def refusal(url: str, response: httpx.Response, data: Any) -> str:
    """What to tell people of a refused request: the status and the problem's detail."""
    detail = data.get("detail") if isinstance(data, dict) else None
    message = f"{url} refused ({response.status_code})"
    if detail:
        message += f": {detail}"
    if response.status_code == 429 and response.headers.get("Retry-After"):
        message += f" (retry in {response.headers['Retry-After']} s)"
    return message
