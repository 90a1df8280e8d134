"""The busiest route, served at little more than the cost of its own work.

FastAPI handles a request in steps: it parses the Content-Type with the `email` package,
decodes a JSON body into Python objects, solves the route's dependencies, validates the
objects against the model, runs the endpoint, and validates the returned model again
(reading it attribute by attribute) before serializing it; on the way it matches the path
through its included routers. For `POST /v1/submissions`, which a vault under load runs
far more often than any other route, those steps cost more than the route's own checks.

So that route:

- parses and validates its body in one pass of pydantic-core over the bytes (`json_body`);
- serializes the answer it built without validating it again (`json_answer`);
- is served by Starlette's plain request handling, ahead of FastAPI's (`serve_directly`),
  while FastAPI still declares and documents it: its endpoint takes only the `Request`
  and returns its `Response`, so FastAPI's handling would add nothing but its cost.

Measured on 2026-11-28, in instructions per submission, all threads: the first two took
it from 3.58 M to 3.13 M (`python -m bench.instructions`); serving it directly saved
0.23 M more (2.59 to 2.36 M, counted with the app driven in-process). With the rest of
that day's work, `bench.instructions` counted 2.77 M, against 0.83 M for the bare one.

What a client sees does not change: a body that does not fit the model is a 422 problem
naming the field (``body``, then its path), as FastAPI's would be; errors reach the same
handlers (`api.problems`); every middleware runs as before. A body that is not JSON at all
is a 415. `documented` is the route's ``openapi_extra`` that documents the body, and
`document_schemas` puts the schemas it cites into the OpenAPI document.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeVar

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Route

_REF_TEMPLATE: Final = "#/components/schemas/{model}"
_Model = TypeVar("_Model", bound=BaseModel)


def _is_json(content_type: str) -> bool:
    """Whether a Content-Type is JSON: application/json or application/*+json."""
    media = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def json_body(request: Request, model: type[_Model]) -> _Model:
    """The request's body as a `model`, parsed and validated straight from its bytes.

    Raises `RequestValidationError` (a 422 naming each field at fault under ``body``) for
    a body that is not valid JSON or does not fit `model`, and an `HTTPException`: 415 for
    a body not declared as JSON, 400 if the client went away before sending it all. The
    body was bounded before (`api.limits.BodyLimit`).
    """
    if not _is_json(request.headers.get("content-type", "")):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "The body must be application/json."
        )
    try:
        body = await request.body()
    except ClientDisconnect:
        # As FastAPI answers a body it could not read: nobody is left to read the answer,
        # and a dropped connection is no server error to log.
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "The body did not arrive whole.") from None
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        # Only each error's place and type reach the client (api.problems): never the input.
        raise RequestValidationError(
            [{"type": error["type"], "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


def json_answer(model: BaseModel, status_code: int = status.HTTP_200_OK) -> Response:
    """`model`, built by the route, as a JSON response; the route declares its type as
    ``response_model`` so the OpenAPI document still describes it."""
    return Response(
        model.__pydantic_serializer__.to_json(model),
        status_code=status_code,
        media_type="application/json",
    )


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that takes a `model` as its JSON body with
    `json_body`; `document_schemas` must be given `model`."""
    reference = {"$ref": _REF_TEMPLATE.format(model=model.__name__)}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": reference}}}
    }


def document_schemas(app: FastAPI, models: Iterable[type[BaseModel]]) -> None:
    """Make the app's OpenAPI document define `models` (and the schemas they use) under
    ``components/schemas``, for references FastAPI does not know of. Generating the
    document raises `ValueError` if another schema already has one of their names."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    models = tuple(models)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                _add_schema(components, model)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_schema(components: dict[str, Any], model: type[BaseModel]) -> None:
    found = model.model_json_schema(ref_template=_REF_TEMPLATE)
    defined = {**found.pop("$defs", {}), model.__name__: found}
    for name, schema in defined.items():
        if components.setdefault(name, schema) != schema:
            raise ValueError(f"two different OpenAPI schemas are named {name}")


Endpoint = Callable[[Request], Awaitable[Response]]


def serve_directly(app: FastAPI, path: str, endpoint: Endpoint, *, method: str) -> None:
    """Serve `method` `path` with `endpoint` through Starlette's request handling, tried
    before every route FastAPI handles. FastAPI's own route for it stays declared, and
    documented, but is never reached.

    Raises `TypeError` unless `endpoint` is a coroutine function taking exactly one
    parameter, the `Request`: one that wanted a dependency, a path or query parameter or
    a body from FastAPI would otherwise go without it.
    """
    parameters = list(inspect.signature(endpoint, eval_str=True).parameters.values())
    if not inspect.iscoroutinefunction(endpoint) or [p.annotation for p in parameters] != [Request]:
        raise TypeError(f"{endpoint.__name__} must be async and take only the Request")
    app.router.routes.insert(
        0, Route(path, endpoint, methods=[method], name=endpoint.__name__, include_in_schema=False)
    )
