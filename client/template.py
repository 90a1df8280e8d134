"""`tvault report template [--lang ko|en]` (DESIGN.md section 7): a valid example report.

Thin: the example comes from :func:`vault.report.template`, is printed as UTF-8 whatever
the terminal's locale, and exits 0; a bad `--lang` is a usage error (2). Registered in
`client.cli` as `report`.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from vault.report import template as report_template

app = typer.Typer(help="Contact reports: a template to fill in.", no_args_is_help=True)


class TemplateLanguage(enum.StrEnum):
    KO = "ko"
    EN = "en"


@app.command("template")
def template(
    lang: Annotated[
        TemplateLanguage, typer.Option("--lang", help="The template's language.")
    ] = TemplateLanguage.KO,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Accepted for uniformity; unused.", file_okay=False),
    ] = None,
    proxy: Annotated[str | None, typer.Option("--proxy", help="Accepted; unused.")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Accepted: the output is always one JSON value.")
    ] = False,
) -> None:
    """Print a valid example report (the person in it is fictional) to fill in and submit."""
    # Bytes, so a terminal or pipe with an ASCII locale still gets the Hangul intact.
    typer.echo(report_template("ko" if lang is TemplateLanguage.KO else "en").encode(), nl=False)
