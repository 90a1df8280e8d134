"""Errors as RFC 9457 problem details (`application/problem+json`), mapped in one place.

Every error the API returns goes through `install_problem_handlers`; handlers never build
error bodies themselves. Bodies carry no echo of the request: a validation problem names
the location and kind of each error, never the submitted value, which may be a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from vault.accounts.errors import SlowDown, Unauthenticated
from vault.errors import ConfigError, Conflict, Forbidden, Invalid, NotFound, VaultError
from vault.submissions.errors import TooLarge

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem details object (section 3.1 members)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    """A problem response whose title is the status's reason phrase (RFC 9457 section 4.2.1:
    with type "about:blank" the title should be the HTTP status phrase)."""
    problem = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, **extensions)
    return ProblemResponse(
        problem.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers
    )


async def _http_exception(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    # Starlette fills in the reason phrase when no detail was given; that is the title.
    detail: str | None = exc.detail
    if detail == HTTPStatus(exc.status_code).phrase:
        detail = None
    return problem_response(exc.status_code, detail, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in error.get("loc", ())], "type": str(error.get("type"))}
        for error in exc.errors()
    ]
    return problem_response(422, "The request is not valid.", errors=errors)


# The one map from the vault's errors to HTTP statuses; the most specific class wins.
_VAULT_STATUS: dict[type[VaultError], int] = {
    Invalid: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    SlowDown: 429,
    TooLarge: 413,
    ConfigError: 500,
}


async def _vault_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, VaultError)
    status = next((_VAULT_STATUS[k] for k in type(exc).__mro__ if k in _VAULT_STATUS), 500)
    if status >= 500:
        # An operator's problem: the server's log says what; the client learns nothing.
        return problem_response(status)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, SlowDown):
        headers["Retry-After"] = str(exc.retry_after)
    # A few errors carry members a client acts on (e.g. the offset to resume an upload at).
    extensions: dict[str, Any] = getattr(exc, "problem_extensions", dict)()
    return problem_response(status, exc.diagnostics(), headers=headers, **extensions)


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    # Starlette logs the traceback; the client learns nothing about the failure.
    return problem_response(500)


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error raised while handling a request to a problem response."""
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(VaultError, _vault_error)
    app.add_exception_handler(Exception, _unexpected)


_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}

# For OpenAPI: the error responses every route may give. `api.app` documents the `Problem`
# schema they refer to (`api.fast_route.document_schemas`).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "Client error", "content": _PROBLEM_CONTENT},
    "5XX": {"description": "Server error", "content": _PROBLEM_CONTENT},
}
