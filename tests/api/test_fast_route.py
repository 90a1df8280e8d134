"""`api.fast_route`: the OpenAPI document of bodies a route parses itself, and serving a
route ahead of FastAPI."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, create_model
from starlette.responses import Response
from starlette.types import Message

from api.fast_route import document_schemas, documented, json_answer, json_body, serve_directly


class Inner(BaseModel):
    n: int


class Outer(BaseModel):
    inner: Inner


def test_a_documented_body_and_the_schemas_it_uses_are_defined() -> None:
    app = FastAPI()

    @app.post("/outer", openapi_extra=documented(Outer))
    def outer() -> None: ...

    document_schemas(app, [Outer])
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert schemas["Outer"]["properties"]["inner"] == {"$ref": "#/components/schemas/Inner"}
    assert schemas["Inner"]["properties"]["n"]["type"] == "integer"
    body = document["paths"]["/outer"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Outer"}


#: Another model named Inner, as a route FastAPI documents itself would take.
OtherInner = create_model("Inner", text=(str, ...))


def test_two_schemas_of_one_name_are_refused_not_overwritten() -> None:
    app = FastAPI()

    @app.post("/inner")
    def inner(body: OtherInner) -> None: ...  # type: ignore[valid-type]

    document_schemas(app, [Outer])
    with pytest.raises(ValueError, match="two different OpenAPI schemas are named Inner"):
        app.openapi()


async def _answer(request: Request) -> Response:
    return json_answer(Inner(n=len(await request.body())), 201)


def test_a_route_served_directly_keeps_the_apps_handlers_and_middleware() -> None:
    app = FastAPI()

    @app.post("/count", status_code=201, response_model=Inner)
    async def count(request: Request) -> Response:
        raise AssertionError("FastAPI's route is declared, never reached")

    @app.exception_handler(LookupError)
    async def not_found(request: Request, exc: Exception) -> Response:
        return Response("handled", status_code=404)

    async def missing(request: Request) -> Response:
        raise LookupError

    @app.middleware("http")
    async def tag(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["x-tag"] = "seen"
        return response

    serve_directly(app, "/count", _answer, method="POST")
    serve_directly(app, "/missing", missing, method="POST")
    with TestClient(app) as client:
        answered = client.post("/count", content=b"12345")
        assert (answered.status_code, answered.json()) == (201, {"n": 5})
        assert answered.headers["x-tag"] == "seen"
        assert client.post("/missing").text == "handled"
        assert client.get("/count").status_code == 405
    assert "/count" in app.openapi()["paths"]


def test_only_an_async_endpoint_taking_just_the_request_is_served_directly() -> None:
    async def with_query(request: Request, n: int) -> Response:
        raise AssertionError

    def blocking(request: Request) -> Response:
        raise AssertionError

    async def untyped(request) -> Response:  # type: ignore[no-untyped-def]
        raise AssertionError

    for endpoint in (with_query, blocking, untyped):
        with pytest.raises(TypeError, match="must be async and take only the Request"):
            serve_directly(FastAPI(), "/x", endpoint, method="POST")  # type: ignore[arg-type]


def test_a_body_cut_short_by_the_client_is_a_400_not_a_server_error() -> None:
    app = FastAPI()

    async def parse(request: Request) -> Response:
        return json_answer(await json_body(request, Inner))

    serve_directly(app, "/parse", parse, method="POST")
    answers: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        answers.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/parse",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    # On a thread of its own: a browser test may have left this one's loop marked running
    # (tests/browser/conftest.py).
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, app(scope, receive, send)).result()
    assert answers[0]["status"] == 400
