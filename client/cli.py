"""The `tvault` command line (DESIGN.md section 7): parse, call the library, print, exit.

Exit codes: 0 success, 1 failed check or refused action, 2 usage error.

Every command takes `--home` and `--proxy`, and `--json` where it prints data, so scripts
can pass them uniformly. `serve` is the one command that imports `api`, and only inside
its function body (DESIGN.md section 9).
"""

from __future__ import annotations

import json
import os
from importlib.metadata import version as distribution_version
from pathlib import Path
from typing import Annotated

import typer

from client.paths import default_data_dir

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
# The flag wins over the variable, and the variable over the user's data dir.
DATA_DIR_VARIABLE = "TVAULT_DATA_DIR"

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
            help="Server data, mode 0700 (embedded SQLite by default). "
            f"Default: ${DATA_DIR_VARIABLE}, else the user's data dir.",
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
    from api.server import StartupError, run

    if data_dir is None and DATA_DIR_VARIABLE not in os.environ:
        data_dir = default_data_dir()
    if dev:
        typer.echo("tvault: development mode; never use it for real testimony.", err=True)
    try:
        run(data_dir=data_dir, host=host, port=port, dev=dev)
    except StartupError as exc:
        typer.echo(f"tvault: {exc}", err=True)
        raise typer.Exit(1) from None


def main() -> None:
    app()
