"""Every response carries the security headers, errors and refusals included."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.headers import SECURITY_HEADERS
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
