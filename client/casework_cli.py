"""The caseworker's commands (DESIGN.md section 7): `inbox`, `open`, `reply`, `grant`,
`revoke`, `case create|add|list` and `export`.

Thin: parse, call `client.casework`, `client.opening`, `client.replying` or
`client.exporting`, print, exit 0; 1 for a refusal or a failed check, 2 for a usage error.
`register(app)` adds them to `tvault` (`client.cli`).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from client import casework, exporting, opening, replying
from client.audit import HomeOption, JsonOption, ProxyOption
from client.casework import Desk, RecordServer
from client.errors import ClientError
from client.home import Home
from crypto.envelope import display_name
from crypto.errors import CryptoError

RecordArgument = Annotated[str, typer.Argument(help="A record id, as tvault inbox lists it.")]
UserArgument = Annotated[str, typer.Argument(help="A colleague's username, as in the roster.")]
case_app = typer.Typer(help="Cases: records grouped under sealed metadata.", no_args_is_help=True)


class ExportFormat(enum.StrEnum):
    JSON = "json"
    CSV = "csv"


class ExportUse(enum.StrEnum):
    UN = "un"
    PUBLISH = "publish"


@contextmanager
def _desk(home: Path | None, proxy: str | None) -> Iterator[Desk]:
    """A desk at this home's server; every refusal or failed check printed, exit 1."""
    client_home = Home(home)
    try:
        state = client_home.state()
        if "server" not in state:
            raise ClientError(f"{client_home.path} knows no server; run tvault login first")
        token = client_home.session_token()
        with RecordServer(state["server"], proxy=proxy, token=token) as server:
            yield Desk.sit(server, client_home)
    except ClientError as exc:
        typer.echo(f"tvault: {exc}", err=True)
        raise typer.Exit(1) from None
    except CryptoError as exc:
        typer.echo(f"tvault: {exc.diagnostics()}", err=True)
        raise typer.Exit(1) from None


def _emit(json_out: bool, data: Any, text: str) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False) if json_out else text)


def inbox(home: HomeOption = None, proxy: ProxyOption = None, json_out: JsonOption = False) -> None:
    """List the records you hold (not logged: ids and sizes only)."""
    with _desk(home, proxy) as desk:
        listed = casework.inbox(desk)
    if json_out:
        typer.echo(json.dumps(listed, ensure_ascii=False))
        return
    if not listed:
        typer.echo("No records.")
        return
    table = Table("record", "kind", "parent", "size", "day", "log index", "holders")
    for record in listed:
        table.add_row(
            *(
                # Escaped: everything here came from the server, never rich markup.
                Text(str(record.get(key) if record.get(key) is not None else ""))
                for key in ("id", "kind", "parent", "size", "day", "log_index")
            ),
            Text(" ".join(record["holder_names"])),
        )
    Console().print(table)


def open_command(
    record: RecordArgument,
    out: Annotated[Path, typer.Option("--out", help="Directory to write into.", file_okay=False)],
    age_file: Annotated[
        Path | None,
        typer.Option(
            "--age-file",
            help="Also write the standard age file (header ‖ payload).",
            dir_okay=False,
        ),
    ] = None,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Fetch, prove, check and decrypt a record; a report brings its attachments and thread."""
    with _desk(home, proxy) as desk:
        opened = opening.open_record(desk, record, out, age_file=age_file)
    for note in opened.notes:
        typer.echo(f"tvault: {note}", err=True)
    files = {rid: str(path) for rid, path in opened.files.items()}
    lines = [f"{rid}: {display_name(str(path))}" for rid, path in opened.files.items()]
    if opened.thread is not None:
        lines.append(f"thread: {opened.thread}")
    if opened.age_file is not None:
        lines.append(f"age file: {opened.age_file}")
    data = {
        "record": record,
        "files": files,
        "thread": None if opened.thread is None else str(opened.thread),
        "age_file": None if opened.age_file is None else str(opened.age_file),
    }
    _emit(json_out, data, "\n".join(lines))


def reply(
    record: RecordArgument,
    message: Annotated[str, typer.Option("--message", help="The reply to the source.")],
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sign and seal a reply to the report's source (and its holders); post it."""
    with _desk(home, proxy) as desk:
        sent = replying.reply(desk, record, message)
    _emit(
        json_out,
        {"record": sent.record, "sequence": sent.sequence},
        f"Reply {sent.sequence} to {sent.record} sent, sealed to {sent.recipients} recipients.",
    )


def grant(
    record: RecordArgument,
    user: UserArgument,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Let a colleague open a record (and a report's attachments): re-wrap its key to them."""
    with _desk(home, proxy) as desk:
        done = casework.grant(desk, record, user)
    text = "\n".join(
        f"{rid}: {'granted to' if new else 'already held by'} {user}" for rid, new in done.items()
    )
    _emit(json_out, {"user": user, "granted": done}, text)


def revoke(
    record: RecordArgument,
    user: UserArgument,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Remove a colleague's access to a record and a report's attachments."""
    with _desk(home, proxy) as desk:
        revoked = casework.revoke(desk, record, user)
    text = "\n".join(
        f"{rid}: {'revoked from' if held else 'not held by'} {user}"
        for rid, held in revoked.items()
    )
    _emit(json_out, {"user": user, "revoked": revoked}, text)


@case_app.command("create")
def case_create(
    name: Annotated[str, typer.Argument(help="The case's name (sealed; only you read it).")],
    note: Annotated[str, typer.Option("--note", help="A note (sealed too).")] = "",
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a case; its name and note are sealed to your own key."""
    with _desk(home, proxy) as desk:
        case = casework.create_case(desk, name, note)
    _emit(json_out, {"id": case}, f"Case {case} created.")


@case_app.command("add")
def case_add(
    case: Annotated[str, typer.Argument(help="The case id.")],
    record: RecordArgument,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a record you hold to one of your cases."""
    with _desk(home, proxy) as desk:
        casework.add_to_case(desk, case, record)
    _emit(json_out, {"case": case, "record": record}, f"Added {record} to case {case}.")


@case_app.command("list")
def case_list(
    home: HomeOption = None, proxy: ProxyOption = None, json_out: JsonOption = False
) -> None:
    """List your cases with their opened names and notes."""
    with _desk(home, proxy) as desk:
        cases = casework.list_cases(desk)
    lines = [
        f"{c['id']}  {display_name(c['name']) if c['name'] is not None else '(cannot open)'}"
        f"  {len(c['records'])} record(s)"
        for c in cases
    ]
    _emit(json_out, cases, "\n".join(lines) or "No cases.")


def export(
    out: Annotated[Path, typer.Option("--out", help="The file to write.", dir_okay=False)],
    record: Annotated[str | None, typer.Argument(help="A report record id.")] = None,
    case: Annotated[str | None, typer.Option("--case", help="Export a case's reports.")] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="json or csv.")] = ExportFormat.JSON,
    use: Annotated[
        ExportUse,
        typer.Option("--for", help="un: share with UN working groups; publish: publication."),
    ] = ExportUse.UN,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Export reports whose sources consented to the use; logged before the file is written."""
    if (record is None) == (case is None):
        raise typer.BadParameter("give a RECORD or --case ID, not both or neither")
    with _desk(home, proxy) as desk:
        exported = exporting.export(
            desk,
            record=record,
            case=case,
            out=out,
            fmt="json" if fmt is ExportFormat.JSON else "csv",
            use="un" if use is ExportUse.UN else "publish",
        )
    _emit(
        json_out,
        {"exported": exported, "out": str(out)},
        f"Exported {len(exported)} report(s) to {out}.",
    )


def register(app: typer.Typer) -> None:
    """Add the caseworker's commands to `app`."""
    app.command("inbox")(inbox)
    app.command("open")(open_command)
    app.command("reply")(reply)
    app.command("grant")(grant)
    app.command("revoke")(revoke)
    app.add_typer(case_app, name="case")
    app.command("export")(export)
