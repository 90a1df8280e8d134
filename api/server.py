"""Run the API under uvicorn: what `tvault serve` calls (its one import of `api`).

`run` builds the settings once, prepares the data dir, creates the app and serves it until
SIGINT or SIGTERM, which drain open requests and shut down gracefully. It raises
`StartupError` when the server cannot start, with a message for the operator.

Start-up work (migrations, keys, the bootstrap code) runs in a short-lived forked child
where `os.fork` exists, before the serving process opens any connection or starts any
thread: the serving process never imports Alembic (about 13 MiB it would keep for good)
nor holds what the migrations and the bootstrap code's Argon2id hash allocate. A fork
costs milliseconds, not the second a fresh interpreter would.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import uvicorn

from api.app import create_app
from api.memory import tune_malloc
from api.timeouts import timed_protocol
from vault.accounts import startup
from vault.accounts.bootstrap import FILE_NAME as BOOTSTRAP_FILE_NAME
from vault.db import create_engine
from vault.errors import ConfigError
from vault.settings import Settings, load_settings, prepare_data_dir

# uvicorn waits this long for open requests after a shutdown signal.
GRACEFUL_SHUTDOWN_SECONDS = 10
# An idle kept-alive connection is closed after this long.
KEEP_ALIVE_SECONDS = 5


def _announce(data_dir: Path, host: str, port: int, bootstrap_code: str | None) -> None:
    print(f"tvault: serving http://{host}:{port}", flush=True)
    if bootstrap_code is not None:
        # The one time this code is shown; the database keeps only its hash.
        print(
            f"tvault: one-time bootstrap code: {bootstrap_code}\n"
            f"tvault: (also in {data_dir / BOOTSTRAP_FILE_NAME}); run: tvault org init "
            f"--server URL --bootstrap-code CODE --org-name NAME --admin USER",
            flush=True,
        )


class StartupError(Exception):
    """The server did not start; the message says why and what to change."""


def _prepare(settings: Settings) -> str | None:
    engine = create_engine(settings)
    try:
        return startup.prepare(settings, engine)
    finally:
        engine.dispose()


def _prepare_apart(settings: Settings) -> str | None:
    """`startup.prepare` in a forked child (in this process where there is no fork):
    the bootstrap code, or None. Raises `ConfigError` (in-process) or `StartupError`
    with its diagnostics (forked) where `startup.prepare` raises `ConfigError`, and
    `StartupError` if the child dies otherwise (its traceback is on stderr)."""
    if not hasattr(os, "fork"):
        return _prepare(settings)
    sys.stdout.flush()
    sys.stderr.flush()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(reader)
        status = 1
        try:
            with os.fdopen(writer, "w", encoding="utf-8") as out:
                try:
                    outcome = ["ok", _prepare(settings)]
                except ConfigError as exc:
                    outcome = ["config", exc.diagnostics()]
                json.dump(outcome, out)
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    os.close(writer)
    with os.fdopen(reader, encoding="utf-8") as answer:
        sent = answer.read()
    _, wait_status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    if code != 0 or not sent:
        raise StartupError(f"preparing the database and keys failed (exit status {code})")
    kind, value = json.loads(sent)
    if kind == "config":
        raise StartupError(value)
    return value if isinstance(value, str) else None


def run(*, data_dir: Path | None, host: str, port: int, dev: bool) -> None:
    """Serve until stopped. `data_dir` None means TVAULT_DATA_DIR or the vault's default.

    `dev` is taken only from the caller (the --dev flag), never from the environment, so
    no variable alone can admit the weak test KDF profile.
    """
    # Before any thread starts: see api.memory (Linux with glibc only).
    tune_malloc()
    values: dict[str, object] = {"dev": dev}
    if data_dir is not None:
        values["data_dir"] = data_dir
    try:
        settings = load_settings(**values)
        prepare_data_dir(settings)
        bootstrap_code = _prepare_apart(settings)
    except ConfigError as exc:
        raise StartupError(exc.diagnostics()) from None
    _announce(settings.data_dir, host, port, bootstrap_code)
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        # No access log: it would record client addresses (DESIGN.md section 2).
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Slow clients are cut off: headers and stalled bodies (api.timeouts).
        http=timed_protocol(settings.slow_client_seconds),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_level="debug" if dev else "info",
    )
    server = uvicorn.Server(config)
    try:
        # After a graceful shutdown uvicorn re-raises the signal that asked for it, so a
        # supervisor sees the process end by that signal.
        server.run()
    except SystemExit as exc:  # uvicorn exits 3 when it cannot bind, having said why
        raise StartupError(f"could not listen on {host}:{port}") from exc
    if not server.started:
        raise StartupError(f"could not listen on {host}:{port}")
