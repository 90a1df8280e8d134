"""Login timing: an unknown username against a known one with a wrong password.

    .venv/bin/python -m bench.login_timing [--logins 200] [--dev]

A fresh vault on SQLite in a temporary directory, served in process (FastAPI's test
client, so no network noise), with the production Argon2id profile unless `--dev` (the
weak test profile: for a quick check that the script works, not for a figure). Its org is
registered over HTTP, which makes `root` a known user. Then `--logins` failed logins of
each kind, alternating so that a change in the machine's load hits both alike: an unknown
username (a new one each time) and `root` with a wrong password. Each username's back-off
is cleared after each attempt, as if each came from a different attacker's first tries;
back-off itself answers without Argon2 work, the same for both kinds (tests show that).

The last line is
``login_timing: unknown_ms=<median> known_wrong_ms=<median> difference_pct=<|a-b|/min>``.
DESIGN.md asks for a difference under 5%: the two must not tell an attacker which
usernames exist.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
from pathlib import Path

import pyotp
from fastapi.testclient import TestClient

from api.app import create_app
from vault.accounts import startup
from vault.db import create_engine
from vault.settings import Settings, load_settings, prepare_data_dir

PASSWORD = "a password long enough"


def _settings(data_dir: Path, *, dev: bool) -> Settings:
    extra: dict[str, object] = {"dev": True, "kdf_profile": "test"} if dev else {}
    settings = load_settings(data_dir=data_dir, **extra)
    prepare_data_dir(settings)
    return settings


def _register(client: TestClient, code: str) -> None:
    secret = pyotp.random_base32(32)
    body = {
        "bootstrap_code": code,
        "name": "Bench",
        "public_key": base64.b64encode(os.urandom(32)).decode(),
        "admin": {
            "username": "root",
            "password": PASSWORD,
            "totp_secret": secret,
            "totp_code": pyotp.TOTP(secret).now(),
        },
    }
    response = client.post("/v1/org", json=body)
    response.raise_for_status()


def _failed_login_ms(client: TestClient, username: str) -> float:
    body = {"username": username, "password": "wrong " + PASSWORD, "totp_code": "000000"}
    start = time.perf_counter()
    response = client.post("/v1/auth/login", json=body)
    elapsed = time.perf_counter() - start
    if response.status_code != 401:
        raise SystemExit(f"login_timing: expected 401, got {response.status_code}")
    client.app.state.accounts.backoff.succeeded(username)  # type: ignore[attr-defined]
    return elapsed * 1000


def measure(logins: int, *, dev: bool) -> tuple[float, float]:
    """Median milliseconds of a failed login: (unknown username, known with wrong password)."""
    with tempfile.TemporaryDirectory(prefix="tvault-bench-") as tmp:
        settings = _settings(Path(tmp) / "data", dev=dev)
        engine = create_engine(settings)
        try:
            code = startup.prepare(settings, engine)
        finally:
            engine.dispose()
        assert code is not None, "a new vault has a bootstrap code"
        with TestClient(create_app(settings)) as client:
            _register(client, code)
            unknown: list[float] = []
            known: list[float] = []
            _failed_login_ms(client, "warm-up")
            for n in range(logins):
                pair = [(unknown, f"nobody-{n}"), (known, "root")]
                for times, username in pair if n % 2 else reversed(pair):
                    times.append(_failed_login_ms(client, username))
    return statistics.median(unknown), statistics.median(known)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--dev", action="store_true", help="weak test KDF: checks, no figure")
    args = parser.parse_args()
    unknown, known = measure(args.logins, dev=args.dev)
    difference = abs(unknown - known) / min(unknown, known) * 100
    print(
        f"login_timing: unknown_ms={unknown:.2f} known_wrong_ms={known:.2f} "
        f"difference_pct={difference:.2f}"
    )


if __name__ == "__main__":
    main()
