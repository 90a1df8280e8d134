"""The HTTP API: `create_app(settings)` builds one FastAPI application.

Importing this module does no work: no settings are read, no engine is built. The caller
(`api.server.run`, or a test) builds `vault.settings.Settings` once and passes it in;
routes reach it through the `SettingsDep` dependency.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated, Final

from fastapi import Depends, FastAPI, Request
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.engine import Engine

from api import (
    admin,
    auth,
    cases,
    enrol,
    health,
    log,
    org,
    page,
    records,
    sources,
    submissions,
    tokens,
)
from api.deps import accounts_lifespan
from api.docs import install_docs
from api.fast_route import document_schemas, serve_directly
from api.headers import SecurityHeaders
from api.limits import BodyLimit
from api.privacy import ForgetClientAddress
from api.problems import PROBLEM_RESPONSES, Problem, install_problem_handlers
from api.timeouts import BodyTimeout
from crypto.note import Signer
from vault.settings import Settings

API_PREFIX = "/v1"
OPENAPI_URL = "/openapi.json"

#: FastAPI's native OpenTelemetry, off whatever the environment says. Once any provider
#: is configured in the process (an `opentelemetry-instrument` wrapper, or
#: FASTAPI_OTEL_AUTO_CONFIGURE=true) it would export a span for every request, naming its
#: path (which record was read, and when), and log validation failures with the values
#: sent. The vault keeps no such trail of who read what beyond its audit log; it sends
#: none elsewhere either.
TELEMETRY_OFF: Final[TelemetryConfig] = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


def create_app(
    settings: Settings, *, engine: Engine | None = None, log_signer: Signer | None = None
) -> FastAPI:
    """Build the application for `settings`. The caller runs it (e.g. under uvicorn).

    `engine` and `log_signer`, when given, are what the routes use (tests, embedding);
    the caller disposes of the engine. Otherwise the app's start-up builds the engine
    from `settings`, and `api.log` loads the log key on first use.
    """
    app = FastAPI(
        title="Testimony Vault",
        version=version("testimony-vault"),
        summary="Sealed testimony, audited access. The server only ever holds ciphertext.",
        docs_url=None,  # api.docs serves /docs without a CDN
        redoc_url=None,
        openapi_url=OPENAPI_URL,
        responses=PROBLEM_RESPONSES,
        lifespan=accounts_lifespan,
        telemetry=TELEMETRY_OFF,
    )
    app.state.settings = settings
    if engine is not None:
        app.state.engine = engine
    app.state.log_signer = log_signer
    install_problem_handlers(app)
    document_schemas(app, [Problem, *submissions.PARSED_BODIES])
    install_docs(app, openapi_url=OPENAPI_URL)
    # Each router is included straight into the app (a nested /v1 router would cost every
    # request a second round of matching) and routes are tried in the order included:
    # the busiest, a source's submission, first.
    for router in (
        submissions.router,
        tokens.router,
        sources.router,
        health.router,
        log.router,
        org.router,
        auth.router,
        admin.router,
        enrol.router,
        records.router,
        cases.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(page.router)
    # FastAPI declares and documents the busiest route; Starlette serves it (api.fast_route).
    serve_directly(app, f"{API_PREFIX}/submissions", submissions.create_submission, method="POST")
    # Each add_middleware wraps the ones before it, so ForgetClientAddress runs first and
    # the address is gone before anything else sees the request; every response, the
    # body limit's refusals included, passes through SecurityHeaders.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        overrides=submissions.body_limit_overrides(settings, API_PREFIX),
    )
    app.add_middleware(BodyTimeout, seconds=settings.slow_client_seconds)
    app.add_middleware(page.SourceCors)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ForgetClientAddress)
    return app


def get_settings(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
