"""Every error is an RFC 9457 problem (application/problem+json), built in one place."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

PROBLEM = "application/problem+json"


def test_unknown_path_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {"type": "about:blank", "title": "Not Found", "status": 404}


def test_wrong_method_is_a_405_problem(client: TestClient) -> None:
    response = client.delete("/v1/health")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["title"] == "Method Not Allowed"


class Secretive(BaseModel):
    passphrase: int


def test_validation_problem_never_echoes_the_submitted_value(app: FastAPI) -> None:
    @app.post("/echo")
    async def echo(body: Secretive) -> int:
        return body.passphrase

    with TestClient(app) as client:
        response = client.post("/echo", json={"passphrase": "correct horse battery"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert problem["errors"] == [{"loc": ["body", "passphrase"], "type": "int_parsing"}]
    assert "correct horse" not in response.text


def test_unexpected_failure_is_a_500_problem_that_reveals_nothing(app: FastAPI) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
    }
    assert "hunter2" not in response.text
