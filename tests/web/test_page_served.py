"""The server serves the source page at `/` under a strict Content-Security-Policy, and lets
the saved page (another origin) call the source's anonymous routes, and nothing else."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.page import is_source_path
from tests.web.support import built, inline_hashes
from vault.settings import Settings


@pytest.fixture
def client(db_settings: Settings) -> Iterator[TestClient]:
    built()
    with TestClient(create_app(db_settings)) as test_client:
        yield test_client


def _policy(header: str) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.partition(" ")[2] for part in header.split("; ")}


def test_the_page_is_served_with_a_strict_policy_that_allows_its_own_script(
    client: TestClient,
) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = _policy(answer.headers["content-security-policy"])
    hashes = inline_hashes(answer.text)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == f"'{hashes['script']}'"
    assert policy["style-src"] == f"'{hashes['style']}'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    # One inline script and one style, and nothing loaded from anywhere.
    assert re.search(r"\ssrc=", answer.text) is None
    assert re.search(r"https?://", answer.text) is None
    config = re.search(r'id="tvault-config">(.*?)</script>', answer.text)
    assert config is not None
    settings = json.loads(config.group(1))
    assert settings["server"] == ""
    assert settings["saved"] is False
    assert settings["fingerprint"] == ""  # no org yet: the person types it
    # The codename's cost is the server's profile (the test profile here).
    assert settings["params"] == {"t": 1, "m": 8, "p": 1}


def test_the_saved_page_may_call_the_source_routes_and_no_other(client: TestClient) -> None:
    ask = {
        "Origin": "null",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }
    preflight = client.options("/v1/submissions/X/records/Y/payload", headers=ask)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    org = client.get("/v1/org", headers={"Origin": "null"})
    assert org.headers["access-control-allow-origin"] == "*"
    login = client.options(
        "/v1/auth/login", headers={**ask, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in login.headers
    bearer = client.options(
        "/v1/sources/lookup", headers={**ask, "Access-Control-Request-Headers": "authorization"}
    )
    assert bearer.status_code == 400  # the Authorization header never crosses origins


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("/v1/org", True),
        ("/v1/tokens", True),
        ("/v1/submissions", True),
        ("/v1/submissions/ABC/records/DEF/payload", True),
        ("/v1/sources/", True),
        ("/v1/sources/lookup", True),
        ("/v1/log/checkpoint", True),
        ("/v1/log/proof/inclusion", True),
        ("/v1/orgs", False),
        ("/v1/sources", False),
        ("/v1/log/checkpoints", False),
        ("/v1/log/entries", False),
        ("/v1/auth/login", False),
        ("/v1/records", False),
        ("/", False),
    ],
)
def test_a_source_path_is_one_of_the_source_routes_or_under_one(path: str, source: bool) -> None:
    assert is_source_path(path) is source
