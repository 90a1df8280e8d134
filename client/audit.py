"""`tvault audit verify` and `tvault audit log` (DESIGN.md section 7), for auditors.

Thin: parse, call `client.auditing`, print, exit 0 only if every check passed, 1 on a
failed check or refusal, 2 on a usage error. Registered in `client.cli` as `audit`.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from client import auditing
from client.errors import ClientError
from client.home import Home
from client.logserver import LogServer

app = typer.Typer(help="The audit log: verify it, read it (auditors).", no_args_is_help=True)

# The same flags as every other command (client.cli), declared here so that cli.py can
# import this module without a cycle.
HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Client state directory (default: the user's config dir).",
        file_okay=False,
        show_default=False,
    ),
]
ProxyOption = Annotated[
    str | None, typer.Option("--proxy", help="Proxy URL, e.g. socks5://127.0.0.1:9050.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON value on stdout.")]
# What the table shows besides index, day, action, actor and record.
_DETAILS = ("part", "target", "holders", "version", "reason", "count", "commitment")


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a day (YYYY-MM-DD)") from None


@app.command("verify")
def verify(
    server: Annotated[str, typer.Option("--server", help="The vault's URL.")],
    org_fingerprint: Annotated[str, typer.Option("--org", help="The org fingerprint to pin.")],
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check the log end to end; exit 0 only if every check passes (see docs/audit.md)."""
    client_home = Home(home)
    state = client_home.state()
    # A session is used only on the server it was made with.
    token = client_home.session_token() if state.get("server") == server.rstrip("/") else None
    try:
        with LogServer(server, proxy=proxy, token=token) as remote:
            result = auditing.verify(remote, client_home, fingerprint=org_fingerprint)
    except ClientError as exc:
        typer.echo(f"tvault: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_out:
        typer.echo(json.dumps(result.as_json()))
    else:
        for check in result.checks:
            typer.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        if result.passed:
            typer.echo(f"The log verifies: {result.tree_size} entries; checkpoint kept.")
        else:
            failed = sum(not check.ok for check in result.checks)
            typer.echo(f"tvault: {failed} check(s) failed; checkpoint not kept.", err=True)
    if not result.passed:
        raise typer.Exit(1)


def _matches(event: dict[str, Any], names: dict[str, str], **wanted: Any) -> bool:
    actor = wanted["actor"]
    if actor is not None and actor not in (event.get("actor"), names.get(event.get("actor", ""))):
        return False
    if wanted["action"] is not None and event.get("action") != wanted["action"]:
        return False
    if wanted["record"] is not None and event.get("record") != wanted["record"]:
        return False
    day = date.fromisoformat(str(event.get("day")))
    since, until = wanted["since"], wanted["until"]
    return (since is None or day >= since) and (until is None or day <= until)


@app.command("log")
def log(
    actor: Annotated[
        str | None, typer.Option("--actor", help="A username or opaque account id.")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="e.g. record.fetched, login.failed.")
    ] = None,
    record: Annotated[str | None, typer.Option("--record", help="A record id.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="First day, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last day, YYYY-MM-DD.")] = None,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the log's entries, replayed against the signed checkpoint first; filter them."""
    first, last = _day(since), _day(until)
    client_home = Home(home)
    state = client_home.state()
    try:
        if "server" not in state:
            raise ClientError(f"{client_home.path} knows no server; run tvault login first")
        token = client_home.session_token()
        with LogServer(state["server"], proxy=proxy, token=token) as remote:
            events, names = auditing.read_log(remote, client_home)
    except ClientError as exc:
        typer.echo(f"tvault: {exc}", err=True)
        raise typer.Exit(1) from None
    chosen = [
        event
        for event in events
        if _matches(
            event, names, actor=actor, action=action, record=record, since=first, until=last
        )
    ]
    if json_out:
        typer.echo(json.dumps(chosen))
        return
    _table(chosen, names)


def _table(events: list[dict[str, Any]], names: dict[str, str]) -> None:
    table = Table("index", "day", "action", "actor", "record", "details")
    for event in events:
        actor = str(event.get("actor"))
        details = ", ".join(
            f"{key}={_named(event[key], names)}" for key in _DETAILS if key in event
        )
        table.add_row(
            str(event["index"]),
            str(event.get("day")),
            str(event.get("action")),
            # Escaped: names and ids came from the server, never rich markup.
            Text(_named(actor, names)),
            Text(str(event.get("record", ""))),
            Text(details),
        )
    Console().print(table)


def _named(value: Any, names: dict[str, str]) -> str:
    if isinstance(value, list):
        return "[" + " ".join(_named(item, names) for item in value) + "]"
    text = str(value)
    return names.get(text, text)
