"""`tvault backup` and `tvault restore`: operator commands, run on the server's host.

Like `serve`, they work on the server's own data, so they import `vault.backup` inside the
command functions and nowhere else: the rest of the client never loads server code. The
layer contract allows exactly that one import (pyproject.toml). See docs/audit.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from client.paths import default_data_dir

DATA_DIR_VARIABLE = "TVAULT_DATA_DIR"
T = TypeVar("T")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The server's data dir (as for tvault serve).",
        file_okay=False,
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON value on stdout.")]
HomeOption = Annotated[Path | None, typer.Option("--home", help="Accepted for uniformity.")]
ProxyOption = Annotated[str | None, typer.Option("--proxy", help="Accepted for uniformity.")]


def _data_dir(given: Path | None) -> Path | None:
    # As serve: the flag, else TVAULT_DATA_DIR (read by the vault's settings), else the
    # user's data dir.
    if given is None and DATA_DIR_VARIABLE not in os.environ:
        return default_data_dir()
    return given


def _operate(action: Callable[[], T]) -> T:
    """Run `action`; a refusal is printed for the operator and exits 1."""
    from vault.backup import BackupError

    try:
        return action()
    except BackupError as exc:
        typer.echo(f"tvault: {exc.diagnostics()}", err=True)
        raise typer.Exit(1) from None


def _emit(json_out: bool, data: dict[str, object], text: str) -> None:
    typer.echo(json.dumps(data) if json_out else text)


def backup(
    out: Annotated[Path, typer.Option("--out", help="The backup file to write (mode 0600).")],
    data_dir: DataDirOption = None,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write a consistent copy of the database, safe while the server runs."""
    from vault.backup import backup as write_backup

    size = _operate(lambda: write_backup(data_dir=_data_dir(data_dir), out=out))
    _emit(
        json_out,
        {"out": str(out), "tree_size": size},
        f"Backed up to {out}: the log holds {size} entries. "
        "The key files in the data dir are not in it; keep them apart.",
    )


def restore(
    source: Annotated[Path, typer.Option("--from", help="A file tvault backup wrote.")],
    data_dir: DataDirOption = None,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Replace the database with a backup and log the restore. Stop the server first."""
    from vault.backup import restore as restore_backup

    done = _operate(lambda: restore_backup(data_dir=_data_dir(data_dir), source=source))
    _emit(
        json_out,
        {"tree_size": done.tree_size, "index": done.index},
        f"Restored a log of {done.tree_size} entries and logged the restore as entry "
        f"{done.index}. Auditors holding a newer checkpoint will see a rollback.",
    )


def register(app: typer.Typer) -> None:
    """Add `backup` and `restore` to the `tvault` command."""
    app.command()(backup)
    app.command()(restore)
