"""Run the API under uvicorn: what `tvault serve` calls (its one import of `api`).

`run` builds the settings once, prepares the data dir, creates the app and serves it until
SIGINT or SIGTERM, which drain open requests and shut down gracefully. It raises
`StartupError` when the server cannot start, with a message for the operator.
"""

from __future__ import annotations

from pathlib import Path

import uvicorn

from api.app import create_app
from api.timeouts import timed_protocol
from vault.accounts import startup
from vault.accounts.bootstrap import FILE_NAME as BOOTSTRAP_FILE_NAME
from vault.db import create_engine
from vault.errors import ConfigError
from vault.settings import load_settings, prepare_data_dir

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


def run(*, data_dir: Path | None, host: str, port: int, dev: bool) -> None:
    """Serve until stopped. `data_dir` None means TVAULT_DATA_DIR or the vault's default.

    `dev` is taken only from the caller (the --dev flag), never from the environment, so
    no variable alone can admit the weak test KDF profile.
    """
    values: dict[str, object] = {"dev": dev}
    if data_dir is not None:
        values["data_dir"] = data_dir
    try:
        settings = load_settings(**values)
        prepare_data_dir(settings)
        engine = create_engine(settings)
        try:
            bootstrap_code = startup.prepare(settings, engine)
        finally:
            engine.dispose()
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
