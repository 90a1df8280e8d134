"""`GET /v1/health` and the OpenAPI documents."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import SettingsDep
from vault.settings import Settings


def test_health_answers_ok_with_the_version(client: TestClient) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok", "version": version("testimony-vault")}


def test_openapi_describes_health_and_problem_responses(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/v1/health"]["get"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Health"
    }
    problem = responses["4XX"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert {"Health", "Problem"} <= document["components"]["schemas"].keys()


def test_docs_page_is_served_without_any_third_party_asset(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text
    assert "validatorUrl" in response.text  # set to null: no spec URL sent to swagger.io
    sources = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", response.text)
    assert sources
    for source in sources:
        assert source.startswith("/docs/assets/"), source
        assert client.get(source).status_code == 200, source


def test_importing_the_api_reads_no_settings() -> None:
    """Nothing happens at import time: a broken environment only matters to Settings()."""
    env = {**os.environ, "TVAULT_MAX_BODY_BYTES": "not a number"}
    subprocess.run([sys.executable, "-c", "import api.app"], env=env, check=True, timeout=60)


def test_routes_get_the_injected_settings(app: FastAPI, settings: Settings) -> None:
    @app.get("/probe")
    async def probe(injected: SettingsDep) -> int:
        return injected.max_body_bytes

    with TestClient(app) as client:
        assert client.get("/probe").json() == settings.max_body_bytes
