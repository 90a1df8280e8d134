"""Keep client network addresses out of the application entirely (DESIGN.md section 2:
no IP address is stored anywhere, logs included).

`ForgetClientAddress` blanks the ASGI `client` entry before any route, handler or log
line below it can see it. Rate limiting, when it comes, keys on something else.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class ForgetClientAddress:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = dict(scope)
            scope["client"] = None
        await self.app(scope, receive, send)
