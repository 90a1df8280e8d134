"""`/`: the source page (issue 7), sealing reports in the browser.

The page is built by `make setup` (web/build.mjs) into web/dist/page.html, one file with
its script and style inline; this route fills in its configuration (the org fingerprint,
the codename's Argon2id cost of this server's profile, the upload limit) and serves it
under a strict Content-Security-Policy: nothing from anywhere else, the one script and the
one style allowed by hash, requests only to this server, no framing.

A page served here is only as trustworthy as the server: a compromised server could serve
another script. The saved page an org hands out (`tvault page build`) cannot be changed
later; the page says so.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import AccountsDep
from vault.errors import NotFound
from vault.settings import Settings

PAGE_DIR: Final = Path(__file__).resolve().parent.parent / "web" / "dist"

router = APIRouter(include_in_schema=False)

#: What the saved page (opened from a file, so of another origin) calls: the anonymous
#: routes a source uses, and nothing a staff member's session reaches.
SOURCE_PATHS: Final = (
    "/v1/org",
    "/v1/tokens",
    "/v1/submissions",
    "/v1/sources/",
    "/v1/log/checkpoint",
    "/v1/log/proof/inclusion",
)
#: A path is a source's if it is one of `SOURCE_PATHS` or lies under one.
_SOURCE_EXACT: Final = frozenset(p for p in SOURCE_PATHS if not p.endswith("/"))
_SOURCE_PREFIXES: Final = tuple(p if p.endswith("/") else p + "/" for p in SOURCE_PATHS)


def is_source_path(path: str) -> bool:
    return path in _SOURCE_EXACT or path.startswith(_SOURCE_PREFIXES)


class SourceCors:
    """Let any origin call the source's anonymous routes, without credentials.

    The saved page runs from a file (origin `null`) and must reach the server. These
    routes take no cookie and no session, and the Authorization header is not allowed
    across origins, so a foreign page can do through them only what anyone can do.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Content-Type"],
            allow_credentials=False,
            expose_headers=["Retry-After"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_source_path(scope["path"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _built(directory: Path) -> tuple[str, dict[str, str]] | None:
    """The page template and its hashes, or None while it is not built (then asked again:
    a page built after the server started is served without a restart)."""
    try:
        return _read_built(directory)
    except (OSError, ValueError, KeyError):
        return None


@cache
def _read_built(directory: Path) -> tuple[str, dict[str, str]]:
    template = (directory / "page.html").read_text(encoding="utf-8")
    hashes = json.loads((directory / "page.json").read_text(encoding="utf-8"))
    return template, {"script": str(hashes["script"]), "style": str(hashes["style"])}


def content_security_policy(hashes: dict[str, str]) -> str:
    """The page's policy: its own script and style by hash, requests to this origin only."""
    return (
        f"default-src 'none'; script-src '{hashes['script']}'; style-src '{hashes['style']}'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


def config_json(config: dict[str, Any]) -> str:
    """`config` as JSON that cannot end the <script> element holding it."""
    text = json.dumps(config, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_config(settings: Settings, fingerprint: str) -> dict[str, Any]:
    cost = settings.kdf.codename
    return {
        "server": "",
        "saved": False,
        "fingerprint": fingerprint,
        "params": {"t": cost.time_cost, "m": cost.memory_kib, "p": cost.parallelism},
        "maxBytes": settings.max_upload_bytes,
    }


@router.get("/", response_class=HTMLResponse)
def source_page(request: Request, accounts: AccountsDep) -> HTMLResponse:
    """The source page, or a plain 503 page saying how to build it."""
    built = _built(PAGE_DIR)
    if built is None:
        return HTMLResponse(
            "<!doctype html><title>Testimony Vault</title><p>The source page is not built: "
            "run <code>make setup</code> on the server.</p>",
            status_code=503,
        )
    template, hashes = built
    settings = request.app.state.settings
    try:
        fingerprint = accounts.org().fingerprint
    except NotFound:
        fingerprint = ""  # no org yet: the person types the one they were given
    html = template.replace("__TVAULT_CSP_META__", "", 1).replace(
        "__TVAULT_CONFIG__", config_json(page_config(settings, fingerprint)), 1
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": content_security_policy(hashes)})
