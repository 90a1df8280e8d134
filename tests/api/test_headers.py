"""Every response carries the security headers, errors and refusals included."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from api.headers import SECURITY_HEADERS, SecurityHeaders
from tests.api.conftest import TEST_BODY_LIMIT


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/health", b""),
        ("GET", "/v1/missing", b""),
        ("POST", "/v1/health", b"x" * (TEST_BODY_LIMIT + 1)),
        ("GET", "/docs", b""),
        ("GET", "/openapi.json", b""),
    ],
    ids=["health", "not-found", "body-too-large", "docs", "openapi"],
)
def test_security_headers_on_every_response(
    client: TestClient, method: str, path: str, body: bytes
) -> None:
    response = client.request(method, path, content=body)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


def test_a_header_the_response_sets_itself_is_kept_and_not_repeated() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"Content-Security-Policy", b"default-src 'self'")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})

    response = TestClient(SecurityHeaders(app)).get("/")
    assert response.headers.get_list("content-security-policy") == ["default-src 'self'"]
    for name, value in SECURITY_HEADERS.items():
        if name != "Content-Security-Policy":
            assert response.headers.get_list(name) == [value], name
