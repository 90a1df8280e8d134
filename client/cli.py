"""The `tvault` command line (DESIGN.md section 7)."""

import typer

app = typer.Typer(no_args_is_help=True, help="Testimony Vault: sealed testimony, audited access.")


def main() -> None:
    app()
