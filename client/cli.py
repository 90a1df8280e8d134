"""The `tvault` command line (DESIGN.md section 7): parse, call the library, print, exit.

Exit codes: 0 success, 1 failed check or refused action, 2 usage error.

Every command takes `--home` and `--proxy`, and `--json` where it prints data, so scripts
can pass them uniformly. `serve` is the one command that imports `api`, and only inside
its function body (DESIGN.md section 9).
"""

from __future__ import annotations

import json
from importlib.metadata import version as distribution_version
from pathlib import Path
from typing import Annotated

import typer

from client.paths import default_data_dir, ensure_private_dir

app = typer.Typer(
    no_args_is_help=True,
    help="Testimony Vault: sealed testimony, audited access.",
    add_completion=False,
    pretty_exceptions_enable=False,
)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Client state directory (default: the user's config dir), mode 0700.",
        file_okay=False,
        show_default=False,
    ),
]
ProxyOption = Annotated[
    str | None,
    typer.Option("--proxy", help="Proxy URL for outbound requests, e.g. socks5://127.0.0.1:9050."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON value on stdout.")]


@app.command()
def version(
    home: HomeOption = None, proxy: ProxyOption = None, json_out: JsonOption = False
) -> None:
    """Print the version of tvault."""
    number = distribution_version("testimony-vault")
    typer.echo(json.dumps({"version": number}) if json_out else f"tvault {number}")


@app.command()
def serve(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Server data (embedded SQLite by default). Default: the user's data dir.",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 8000,
    dev: Annotated[
        bool, typer.Option("--dev", help="Development mode: permits the weak test profile.")
    ] = False,
    home: HomeOption = None,
    proxy: ProxyOption = None,
) -> None:
    """Run the server until interrupted; SIGINT or SIGTERM shut it down gracefully.

    --home and --proxy are accepted for uniformity: the server keeps no client state.
    """
    # The one import of `api` outside `api`: kept in this function so the rest of the
    # client never loads the server (DESIGN.md section 9).
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    directory = data_dir if data_dir is not None else default_data_dir()
    try:
        ensure_private_dir(directory)
    except OSError as exc:
        typer.echo(f"tvault: cannot use data dir {directory}: {exc.strerror}", err=True)
        raise typer.Exit(1) from exc
    settings = Settings(data_dir=directory, dev=dev)
    if dev:
        typer.echo("tvault: development mode; never use it for real testimony.", err=True)
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        # No access log: it would record client addresses (DESIGN.md section 2).
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        log_level="debug" if dev else "info",
    )
    server = uvicorn.Server(config)
    try:
        # On SIGTERM or SIGINT uvicorn drains requests, shuts down, then re-raises the
        # signal, so a supervisor sees the process end by that signal, as it asked.
        server.run()
    except SystemExit as exc:
        # uvicorn exits 3 when it cannot start (e.g. the port is taken) and said why.
        raise typer.Exit(1) from exc
    if not server.started:
        raise typer.Exit(1)


def main() -> None:
    app()
