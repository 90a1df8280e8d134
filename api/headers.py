"""Response headers every answer carries, whatever route or error produced it.

Responses may hold ciphertext, rosters or proofs: no cache keeps them (`no-store`), no
browser sniffs a type into something executable, no page frames them, and no link from
them leaks this server's address in a Referer. The policy lets the /docs page run only
what this server itself serves (see api.docs).
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Swagger UI's page starts itself with one inline script and sets inline styles, hence
    # 'unsafe-inline' for those two; everything else it loads comes from this server.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    ),
}


#: `SECURITY_HEADERS` as ASGI sends them: lower-case names, latin-1 bytes.
_RAW: Final = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in SECURITY_HEADERS.items()
)


class SecurityHeaders:
    """Add `SECURITY_HEADERS` to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(raw for raw in _RAW if raw[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
