"""A malicious server is caught: the real CLIs against a tampering proxy (tests/e2e/tamper.py)
in front of a real `tvault serve --dev`, on SQLite and on PostgreSQL.

The proxy holds no key anyone trusts, exactly like a compromised server: it can serve any
bytes it likes, but a swapped payload, a substituted reply key, a forged reply and a fetch
served without its log entry must each end the CLI with exit 1, a message saying what was
wrong, and nothing written.
"""

from __future__ import annotations

import httpx

from tests.api.conftest import RunningServer
from tests.e2e.tamper import Exchange, TamperProxy, flip_byte

# -- the proxy itself ------------------------------------------------------------------------


def test_the_proxy_forwards_and_rewrites(served: tuple[RunningServer, str]) -> None:
    server, _ = served
    with TamperProxy(server.base_url) as proxy, httpx.Client(base_url=proxy.base_url) as client:
        health = httpx.get(f"{server.base_url}/v1/health").json()
        assert client.get("/v1/health").json() == health
        # A request body and a problem response go through unchanged.
        body = {"username": "nobody", "password": "wrong", "totp_code": "000000"}
        refused = client.post("/v1/auth/login", json=body)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        no_org = client.get("/v1/org")
        assert no_org.status_code == 404
        assert no_org.json() == httpx.get(f"{server.base_url}/v1/org").json()

        proxy.rewrite_json("GET", r"/v1/h.alth", lambda body: {**body, "status": "evil"})

        def other(exchange: Exchange) -> Exchange:
            return exchange.with_body(exchange.upstream("GET", "/v1/health").content)

        proxy.rewrite("GET", r"/v1/log/checkpoint", other)
        assert client.get("/v1/health").json() == {**health, "status": "evil"}
        assert client.get("/v1/log/checkpoint").json() == health
        assert httpx.get(f"{server.base_url}/v1/health").json() == health
        # Only a whole-path match is rewritten, and a problem is left alone by rewrite_json.
        proxy.rewrite_json("GET", r"/v1/org", lambda body: {"evil": True})
        assert client.get("/v1/org").json() == no_org.json()
        assert client.get("/v1/healthy").status_code == 404
        assert ("POST", "/v1/auth/login") in proxy.seen

        proxy.clear()
        assert client.get("/v1/health").json() == health


def test_flip_byte() -> None:
    assert flip_byte(b"\x00\x01\x02", 1) == b"\x00\xfe\x02"
    assert flip_byte(b"\x00\x01\x02", -1) == b"\x00\x01\xfd"
