"""FastAPI's native OpenTelemetry stays off, whatever providers the process has.

Once any provider is configured, it would export a span for every request, with its path
(record ids: who reads what, and when), and log validation failures with the values sent.
The providers are process-global and can be set only once, so the check runs in a child
process: it sets recording providers, then sends one request to the vault's app and one
to a plain FastAPI app (the control, which shows the providers are live).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

_CHILD = textwrap.dedent(
    """
    import json, sys
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from opentelemetry import _logs, metrics, trace
    from opentelemetry._logs import LoggerProvider, NoOpLogger
    from opentelemetry.metrics import MeterProvider, NoOpMeter
    from opentelemetry.trace import INVALID_SPAN, NoOpTracer, TracerProvider

    from api.app import create_app
    from vault.settings import load_settings

    seen = []

    class Tracer(NoOpTracer):
        def start_span(self, name, context=None, kind=None, attributes=None, **kwargs):
            seen.append(("span", sorted(map(str, (attributes or {}).values()))))
            return INVALID_SPAN

    class Tracers(TracerProvider):
        def get_tracer(self, *args, **kwargs):
            seen.append(("tracer", []))
            return Tracer()

    class Meters(MeterProvider):
        def get_meter(self, name, *args, **kwargs):
            seen.append(("meter", []))
            return NoOpMeter(name)

    class Loggers(LoggerProvider):
        def get_logger(self, name, *args, **kwargs):
            seen.append(("logger", []))
            return NoOpLogger(name)

    trace.set_tracer_provider(Tracers())
    metrics.set_meter_provider(Meters())
    _logs.set_logger_provider(Loggers())

    def seen_by(app, path):
        seen.clear()
        with TestClient(app) as client:
            client.get(path)
        return list(seen)

    plain = FastAPI()
    plain.get("/v1/records/{record_id}")(lambda record_id: {})
    ours = create_app(load_settings(data_dir=sys.argv[1]))
    print(json.dumps({"plain": seen_by(plain, sys.argv[2]),
                      "ours": seen_by(ours, sys.argv[2])}))
    """
)


def test_no_request_reaches_a_configured_opentelemetry_provider(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path), f"/v1/records/{'A' * 26}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # Also what FastAPI's own automatic set-up would read.
        env={**os.environ, "FASTAPI_OTEL_AUTO_CONFIGURE": "true", "OTEL_SDK_DISABLED": ""},
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # The control: a plain app exports a span naming the record asked for, so the
    # providers are live and what the vault turns off is real.
    spans = [values for kind, values in seen["plain"] if kind == "span"]
    assert any(f"/v1/records/{'A' * 26}" in values for values in spans), seen["plain"]
    assert seen["ours"] == []
