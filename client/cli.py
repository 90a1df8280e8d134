"""The `tvault` command line (DESIGN.md section 7): parse, call the library, print, exit.

Exit codes: 0 success, 1 failed check or refused action, 2 usage error.

Every command takes `--home` and `--proxy`, and `--json` where it prints data, so scripts
can pass them uniformly. `serve` is the one command that imports `api`, and only inside
its function body (DESIGN.md section 9).
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version as distribution_version
from pathlib import Path
from typing import Annotated

import typer

from client import (
    accounts,
    audit,
    backups,
    casework_cli,
    org,
    page_cli,
    prompts,
    rosters,
    source_cli,
    template,
)
from client.errors import ClientError
from client.home import Home
from client.http import Server
from client.paths import default_data_dir
from client.rotate import rotate
from crypto.errors import CryptoError
from crypto.profile import PRODUCTION_NAME, TEST_NAME, KdfProfile, profile_named

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


class Role(enum.StrEnum):
    INTAKE = "intake"
    CASEWORKER = "caseworker"
    AUDITOR = "auditor"
    ADMIN = "admin"


class RecipientType(enum.StrEnum):
    PQ = "pq"
    X25519 = "x25519"


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


# --- org, accounts and rosters (issue 3) -------------------------------------------

org_app = typer.Typer(help="The organisation: set it up.", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts (admin).", no_args_is_help=True)
roster_app = typer.Typer(help="The signed roster (admin).", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(roster_app, name="roster")
app.add_typer(audit.app, name="audit")
app.add_typer(template.app, name="report")
backups.register(app)
casework_cli.register(app)
source_cli.register(app)
page_cli.register(app)

ServerOption = Annotated[str, typer.Option("--server", help="The vault's URL.")]
OrgOption = Annotated[
    str, typer.Option("--org", help="The org fingerprint you were given, to pin.")
]
UserOption = Annotated[str, typer.Option("--user", help="Your username.")]
DevOption = Annotated[
    bool,
    typer.Option("--dev", hidden=True, help="Weak KDF for identity files: tests only."),
]


def _profile(dev: bool) -> KdfProfile:
    return profile_named(TEST_NAME if dev else PRODUCTION_NAME, allow_test=dev)


def _emit(json_out: bool, data: dict[str, object], text: str) -> None:
    typer.echo(json.dumps(data) if json_out else text)


@contextmanager
def _refusals() -> Iterator[None]:
    """Print a refusal or failed check for people, and exit 1."""
    try:
        yield
    except ClientError as exc:
        typer.echo(f"tvault: {exc}", err=True)
        raise typer.Exit(1) from None
    except CryptoError as exc:
        typer.echo(f"tvault: {exc.diagnostics()}", err=True)
        raise typer.Exit(1) from None


def _session(home: Home, proxy: str | None) -> Server:
    state = home.state()
    if "server" not in state:
        raise ClientError(f"{home.path} knows no server; run tvault login first")
    return Server(state["server"], proxy=proxy, token=home.session_token())


@org_app.command("init")
def org_init(
    server: ServerOption,
    bootstrap_code: Annotated[
        str, typer.Option("--bootstrap-code", help="The code tvault serve printed.")
    ],
    org_name: Annotated[str, typer.Option("--org-name", help="The organisation's name.")],
    admin: Annotated[str, typer.Option("--admin", help="Username of the first admin.")],
    recipient_type: Annotated[
        RecipientType,
        typer.Option(
            "--recipient-type",
            help="pq (ML-KEM-768 + X25519, default) or x25519: a downgrade that a "
            "future quantum computer could break for everything sealed now.",
        ),
    ] = RecipientType.PQ,
    recovery_threshold: Annotated[
        int | None,
        typer.Option(
            "--recovery-threshold",
            min=2,
            help="Add an offline recovery recipient: how many trustees' shares rebuild it. "
            "Any that many trustees together can open every record.",
        ),
    ] = None,
    recovery_shares: Annotated[
        int | None,
        typer.Option("--recovery-shares", max=16, help="How many trustees get a share."),
    ] = None,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
    dev: DevOption = False,
) -> None:
    """Make the org key here, register it, create the admin; print the fingerprint."""
    if (recovery_threshold is None) != (recovery_shares is None):
        raise typer.BadParameter("give both --recovery-threshold and --recovery-shares, or neither")
    split = None if recovery_shares is None else (recovery_threshold or 0, recovery_shares)
    if recipient_type is RecipientType.X25519:
        typer.echo(
            "tvault: x25519 is a downgrade: not safe from harvest-now-decrypt-later.", err=True
        )
    with _refusals(), Server(server, proxy=proxy) as remote:
        result = org.init(
            remote,
            Home(home),
            bootstrap_code=bootstrap_code,
            org_name=org_name,
            admin=admin,
            recipient_type="pq" if recipient_type is RecipientType.PQ else "x25519",
            profile=_profile(dev),
            recovery_split=split,
        )
    data: dict[str, object] = {"fingerprint": result.fingerprint, "totp_secret": result.totp_secret}
    text = (
        f"Org fingerprint (read it aloud to compare): {result.fingerprint}\n"
        f"TOTP secret for {admin} (shown once; add it to your authenticator): "
        f"{result.totp_secret}\n"
        f"Org key saved to {result.org_key_file}; keep it offline and backed up."
    )
    if result.recovery_shares is not None:
        data["recovery_shares"] = result.recovery_shares
        text += "\nRecovery shares, one per trustee (shown once, never stored):\n" + "\n".join(
            f"  {i}. {share}" for i, share in enumerate(result.recovery_shares, 1)
        )
    _emit(json_out, data, text)


@app.command()
def login(
    server: ServerOption,
    org_fingerprint: OrgOption,
    user: UserOption,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Log in with password and TOTP; checks the org and its roster first."""
    with _refusals(), Server(server, proxy=proxy) as remote:
        session = accounts.login(remote, Home(home), fingerprint=org_fingerprint, username=user)
    _emit(
        json_out,
        {
            "username": session["username"],
            "role": session["role"],
            "expires_at": session["expires_at"],
            "roster_version": session["roster_version"],
        },
        f"Logged in as {session['username']} ({session['role']}) until {session['expires_at']}.",
    )


@app.command()
def logout(
    home: HomeOption = None, proxy: ProxyOption = None, json_out: JsonOption = False
) -> None:
    """End this home's session on the server and forget its token."""
    client_home = Home(home)
    with _refusals(), _session(client_home, proxy) as remote:
        ended = accounts.logout(remote, client_home)
    _emit(json_out, {"logged_out": ended}, "Logged out." if ended else "Not logged in.")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="The new account's username.")],
    role: Annotated[Role, typer.Option("--role", help="The account's one role.")],
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create an account; print its one-time enrolment code to hand over in person."""
    client_home = Home(home)
    with _refusals(), _session(client_home, proxy) as remote:
        issued = accounts.add_user(remote, client_home, username=username, role=role.value)
    _emit(
        json_out,
        {"enrolment_code": issued["enrolment_code"], "expires_on": issued["expires_on"]},
        f"Enrolment code for {username} ({role.value}), valid until {issued['expires_on']}:\n"
        f"{issued['enrolment_code']}",
    )


@user_app.command("disable")
def user_disable(
    username: Annotated[str, typer.Argument(help="The account to disable.")],
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Disable an account and end its sessions; publish a roster to drop it there too."""
    client_home = Home(home)
    with _refusals(), _session(client_home, proxy) as remote:
        accounts.disable_user(remote, username=username)
    _emit(json_out, {"disabled": username}, f"Disabled {username}; now run tvault roster publish.")


@app.command()
def enroll(
    server: ServerOption,
    org_fingerprint: OrgOption,
    user: UserOption,
    code: Annotated[str, typer.Option("--code", help="The enrolment code your admin gave.")],
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
    dev: DevOption = False,
) -> None:
    """Pin the org, set your password and TOTP, make your identity file, enrol its keys."""
    client_home = Home(home)
    with _refusals(), Server(server, proxy=proxy) as remote:
        done = accounts.enroll(
            remote,
            client_home,
            fingerprint=org_fingerprint,
            username=user,
            code=code,
            profile=_profile(dev),
        )
    _emit(
        json_out,
        {
            "totp_secret": done.totp_secret,
            "recipient": done.recipient,
            "key_fingerprint": done.key_fingerprint,
        },
        f"Enrolled {done.username} ({done.role}).\n"
        f"TOTP secret (shown once; add it to your authenticator): {done.totp_secret}\n"
        f"Key fingerprint, for your admin to compare: {done.key_fingerprint}",
    )


@roster_app.command("publish")
def roster_publish(
    yes: Annotated[bool, typer.Option("--yes", help="Publish without asking (scripts).")] = False,
    valid_days: Annotated[
        int, typer.Option("--valid-days", min=1, max=366, help="Days until it expires.")
    ] = 90,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check every enrolment, show the key fingerprints, sign and publish the roster."""
    client_home = Home(home)
    with _refusals(), _session(client_home, proxy) as remote:
        passphrase = prompts.secret(prompts.PASSPHRASE, "Passphrase for the org key")
        version = _publish(remote, client_home, passphrase, valid_days=valid_days, yes=yes)
    _emit(json_out, {"version": version}, f"Published roster version {version}.")


def _publish(remote: Server, home: Home, passphrase: str, *, valid_days: int, yes: bool) -> int:
    """Publish the next roster, showing each member's key fingerprint first; without
    --yes the admin must agree."""

    def confirm(members: list[dict[str, object]]) -> bool:
        for member in members:
            typer.echo(
                f"  {member['username']:<24} {member['role']:<11} "
                f"{member.get('fingerprint', '(no keys)')}",
                err=True,
            )
        return yes or typer.confirm("Publish this roster?", err=True)

    return rosters.publish(
        remote, home, passphrase=passphrase, valid_days=valid_days, confirm=confirm
    )


@org_app.command("rotate-key")
def org_rotate_key(
    yes: Annotated[
        bool, typer.Option("--yes", help="Publish the next roster without asking (scripts).")
    ] = False,
    valid_days: Annotated[
        int, typer.Option("--valid-days", min=1, max=366, help="Days until the roster expires.")
    ] = 90,
    home: HomeOption = None,
    proxy: ProxyOption = None,
    json_out: JsonOption = False,
    dev: DevOption = False,
) -> None:
    """Make a new org key here, announced by the old one; publish the next roster with it.

    Clients that pinned the old key follow the signed announcement to the new one.
    """
    client_home = Home(home)
    with _refusals(), _session(client_home, proxy) as remote:
        passphrase = prompts.secret(prompts.PASSPHRASE, "Passphrase for the org key")
        rotated = rotate(remote, client_home, passphrase=passphrase, profile=_profile(dev))
        typer.echo(
            f"Org key rotated (statement {rotated.serial}); new fingerprint, to read aloud: "
            f"{rotated.fingerprint}. The old key is kept in {rotated.old_key_file}.",
            err=True,
        )
        try:
            version = _publish(remote, client_home, passphrase, valid_days=valid_days, yes=yes)
        except ClientError as exc:
            raise ClientError(
                f"the key was rotated, but the roster was not published ({exc}); "
                "clients refuse the old roster now: run tvault roster publish"
            ) from None
    _emit(
        json_out,
        {
            "serial": rotated.serial,
            "fingerprint": rotated.fingerprint,
            "old_fingerprint": rotated.old_fingerprint,
            "roster_version": version,
        },
        f"Published roster version {version}, signed by the new org key.",
    )


def main() -> None:
    app()
