"""The OpenAPI page at /docs, served entirely from this server.

FastAPI's default page loads Swagger UI from a public CDN, unpinned: every visit would tell
a third party that someone is reading this vault's API, and that party could change the
script. Here the assets come from the `fastapi-offline` wheel (hash-pinned in uv.lock) and
Swagger UI's online validator, which would send the spec's address to swagger.io, is off.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"


def install_docs(app: FastAPI, *, openapi_url: str) -> None:
    """Serve the Swagger UI page for `openapi_url` at /docs, with its assets beside it."""
    assets = files("fastapi_offline") / "static"
    app.mount(ASSETS_PATH, StaticFiles(directory=str(assets)), name="docs-assets")
    title = f"{app.title} API"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
