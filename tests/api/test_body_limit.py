"""Every request body is bounded, whether its length is declared or it arrives chunked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from tests.api.conftest import TEST_BODY_LIMIT, chunks

PROBLEM = "application/problem+json"


@pytest.fixture
def echo_client(app: FastAPI) -> Iterator[TestClient]:
    """The app with one route that returns the size of the body it read."""

    @app.post("/size")
    async def size(request: Request) -> int:
        return len(await request.body())

    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("length", [0, 1, TEST_BODY_LIMIT - 1, TEST_BODY_LIMIT])
def test_bodies_within_the_limit_reach_the_route_whole(
    echo_client: TestClient, length: int
) -> None:
    response = echo_client.post("/size", content=b"x" * length)
    assert response.status_code == 200
    assert response.json() == length


def test_declared_length_over_the_limit_is_refused(echo_client: TestClient) -> None:
    response = echo_client.post("/size", content=b"x" * (TEST_BODY_LIMIT + 1))
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 413


def test_chunked_body_within_the_limit_reaches_the_route_whole(echo_client: TestClient) -> None:
    response = echo_client.post("/size", content=chunks(TEST_BODY_LIMIT))
    assert response.status_code == 200
    assert response.json() == TEST_BODY_LIMIT


def test_chunked_body_over_the_limit_is_refused(echo_client: TestClient) -> None:
    response = echo_client.post("/size", content=chunks(TEST_BODY_LIMIT * 50))
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


def test_limit_applies_to_unknown_routes_too(echo_client: TestClient) -> None:
    response = echo_client.post("/v1/nowhere", content=b"x" * (TEST_BODY_LIMIT + 1))
    assert response.status_code == 413
