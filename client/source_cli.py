"""The source's commands (DESIGN.md section 7): `submit` and `replies`.

Thin: parse, call `client.submitting` or `client.returning`, print, exit 0; 1 for a
refusal or a failed check, 2 for a usage error. `register(app)` adds them to `tvault`.

`--dev` (hidden) derives the codename's keys at the weak test profile; `submit` and
`replies` must agree on it, as the keys differ. Without it the production cost is used.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from client import returning, submitting
from client.audit import HomeOption, JsonOption, ProxyOption
from client.home import Home
from client.source import SourceServer
from crypto.codename import Codename
from crypto.profile import KdfProfile

ServerOption = Annotated[str, typer.Option("--server", help="The vault's URL.")]
OrgOption = Annotated[
    str, typer.Option("--org", help="The org fingerprint you were given, to check the server.")
]
DevOption = Annotated[
    bool, typer.Option("--dev", hidden=True, help="Weak codename KDF: tests only.")
]

KEEP_SAFE = (
    "Keep the codename safe: learn it by heart or write it on paper you can hide, away "
    "from the report and from anything that names you or the detainee. Do not keep it on "
    "your phone or in your messages. Anyone with it can read the replies; without it you "
    "cannot, and nobody can give it back to you."
)


class CodenameLanguage(enum.StrEnum):
    KO = "ko"
    EN = "en"


def _profile(dev: bool) -> KdfProfile:
    from client.cli import _profile  # at call time: client.cli imports this module

    return _profile(dev)


def _refusals() -> AbstractContextManager[None]:
    from client.cli import _refusals

    return _refusals()


class _Bar:
    """A rich progress bar on stderr for the upload."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("Uploading"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("upload", total=total, completed=done)

    def update(self, done: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=done)

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()


def _announce(console: Console) -> Callable[[Codename, bool], None]:
    def announce(codename: Codename, resumed: bool) -> None:
        if resumed:
            console.print("Continuing the unfinished upload of this report.", highlight=False)
            return
        console.print(
            f"Your codename (write it down now; you need it to see replies):\n\n    {codename}\n",
            highlight=False,
            markup=False,
            soft_wrap=True,  # one line, however narrow the terminal: it is copied whole
        )

    return announce


def submit(
    server: ServerOption,
    org_fingerprint: OrgOption,
    report: Annotated[
        Path, typer.Option("--report", help="The report, filled in from tvault report template.")
    ],
    attach: Annotated[
        list[Path] | None,
        typer.Option("--attach", help="A file to send with the report (repeatable)."),
    ] = None,
    lang: Annotated[
        CodenameLanguage, typer.Option("--lang", help="The codename's words: ko or en.")
    ] = CodenameLanguage.KO,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
    dev: DevOption = False,
) -> None:
    """Seal a report (and attachments) here and send it; print your codename.

    An interrupted upload continues when you run the same command again.
    """
    console = Console(stderr=True, highlight=False)
    bar = _Bar(console)
    with _refusals(), SourceServer(server, proxy=proxy) as remote:
        try:
            done = submitting.submit(
                remote,
                Home(home),
                fingerprint=org_fingerprint,
                report_path=report,
                attachment_paths=list(attach or []),
                lang="ko" if lang is CodenameLanguage.KO else "en",
                profile=_profile(dev),
                announce=_announce(console),
                progress=bar,
            )
        finally:
            bar.stop()
    data: dict[str, object] = {
        "codename": str(done.codename),
        "record_id": done.record_id,
        "log_index": done.log_index,
        "attachments": done.attachments,
    }
    if json_out:
        typer.echo(json.dumps(data, ensure_ascii=False))
        console.print(KEEP_SAFE)
        return
    lines = [
        "Sent and logged. The receipt verifies.",
        f"Codename:  {done.codename}",
        f"Report:    {done.record_id} (log index {done.log_index})",
        *(f"Attached:  {rid}" for rid in done.attachments),
        "",
        KEEP_SAFE,
        "To read replies later: tvault replies --server URL --org FINGERPRINT",
    ]
    typer.echo("\n".join(lines))


def replies(
    server: ServerOption,
    org_fingerprint: OrgOption,
    add: Annotated[
        Path | None,
        typer.Option("--add", help="Send more information: a report/v1 JSON file."),
    ] = None,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
    dev: DevOption = False,
) -> None:
    """Read the replies to your report with your codename; check its receipt; add more.

    The codename is read from TVAULT_CODENAME, or asked for.
    """
    with _refusals(), SourceServer(server, proxy=proxy) as remote:
        thread = returning.replies(
            remote, fingerprint=org_fingerprint, profile=_profile(dev), add=add
        )
    if json_out:
        data = {
            "records": [
                {"id": r["id"], "kind": r["kind"], "log_index": r["log_index"]}
                for r in thread.records
            ],
            "receipt": {"verified": True, "tree_size": thread.tree_size},
            "replies": [
                {
                    "record": r.record,
                    "sequence": r.sequence,
                    "author": r.author,
                    "message": r.message,
                }
                for r in thread.replies
            ],
            "followups": thread.followups,
            "added": thread.added,
        }
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    report = thread.records[0]
    lines = [
        f"Your report {report['id']} is in the log (entry {report['log_index']}, checked "
        f"against the signed log of {thread.tree_size} entries)."
    ]
    if not thread.replies:
        lines.append("No replies yet.")
    for reply in thread.replies:
        lines += [f"\nReply {reply.sequence} (signed by staff member {reply.author}):"]
        lines += [returning.terminal_text(reply.message)]
    if thread.added is not None:
        lines.append(f"\nYour follow-up was sent (number {thread.added}).")
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    """Add `submit` and `replies` to `tvault`."""
    app.command("submit")(submit)
    app.command("replies")(replies)
