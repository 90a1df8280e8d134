"""JSON bodies parsed by the route itself, and answers serialized once: for the busiest route.

FastAPI takes a body parameter in steps: it parses the Content-Type with the `email`
package, decodes the JSON into Python objects, solves the route's dependencies, validates
those objects against the model, and validates the returned model again (reading it
attribute by attribute) before serializing it. For `POST /v1/submissions`, which a vault
under load runs far more often than any other, those steps cost more than the route's own
checks. Here the body is parsed and validated in one pass of pydantic-core over the bytes
(`json_body`), and the answer, a model the route built, is serialized without being
validated again (`json_answer`): a submission went from 3.58 M to 3.13 M instructions
(`python -m bench.instructions`, 2026-11-28), the answer's second validation alone being
about a third of that.

What a client sees does not change: a body that does not fit the model is a 422 problem
naming the field (``body``, then its path), as FastAPI's would be; a body that is not JSON
at all is a 415. `documented` is the route's ``openapi_extra`` that documents the body,
and `document_schemas` puts the schemas it cites into the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

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
    a body that is not valid JSON or does not fit `model`, and an `HTTPException` 415 for
    a body not declared as JSON. The body was bounded before (`api.limits.BodyLimit`).
    """
    if not _is_json(request.headers.get("content-type", "")):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "The body must be application/json."
        )
    try:
        return model.model_validate_json(await request.body())
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
