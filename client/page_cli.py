"""`tvault page build`: the source page as one self-contained HTML file the org hands out.

The page (web/, built by `make setup` into web/dist/page.html) seals reports in the
browser. This command fills in the org's server URL and fingerprint and a
Content-Security-Policy `<meta>` allowing only the page's own script and style (by hash)
and requests to that server. Given by the org, through a channel the server does not
control, the saved file cannot be altered later by a compromised server, as the page
served at `/` can. Nothing is fetched: the fingerprint is checked against the server by
the page itself, each time it is used.

`register(app)` adds the `page` group to `tvault`. Exit 1 with a plain message when the
page is not built, the URL or fingerprint is malformed, or the file cannot be written.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

import typer

from client.errors import ClientError
from crypto.errors import CryptoError
from crypto.profile import PRODUCTION_NAME, TEST_NAME, profile_named
from crypto.roster import normalise_fingerprint

PAGE_DIR: Final = Path(__file__).resolve().parent.parent / "web" / "dist"
#: The largest attachment the page accepts unless told otherwise: the server's default.
DEFAULT_MAX_BYTES: Final = 512 * 1024 * 1024

app = typer.Typer(help="The source page (a web page that seals in the browser).")


def server_origin(url: str) -> str:
    """The origin of `url` (scheme, host, port), the only place the page may connect to.

    Raises `ClientError` for anything but an http(s) URL with a host and no credentials."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ClientError(f"--server must be an http:// or https:// URL, not {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ClientError("--server is the vault's root URL, without a path or query")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def build_page(
    *, server: str, fingerprint: str, dev: bool = False, max_bytes: int = DEFAULT_MAX_BYTES
) -> str:
    """The self-contained page for this org. Raises `ClientError` saying what is wrong."""
    origin = server_origin(server)
    try:
        wanted = normalise_fingerprint(fingerprint)
    except CryptoError:
        raise ClientError(f"--org {fingerprint!r} is not an org fingerprint") from None
    try:
        template = (PAGE_DIR / "page.html").read_text(encoding="utf-8")
        hashes = json.loads((PAGE_DIR / "page.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ClientError(f"the page is not built ({PAGE_DIR}): run make setup") from None
    cost = profile_named(TEST_NAME if dev else PRODUCTION_NAME, allow_test=dev).codename
    config: dict[str, Any] = {
        "server": origin,
        "saved": True,
        "fingerprint": wanted,
        "params": {"t": cost.time_cost, "m": cost.memory_kib, "p": cost.parallelism},
        "maxBytes": max_bytes,
    }
    policy = (
        f"default-src 'none'; script-src '{hashes['script']}'; style-src '{hashes['style']}'; "
        f"img-src data:; connect-src {origin}; base-uri 'none'; form-action 'none'"
    )
    meta = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">'
    text = json.dumps(config, ensure_ascii=False, separators=(",", ":"))
    safe = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return template.replace("__TVAULT_CSP_META__", meta, 1).replace("__TVAULT_CONFIG__", safe, 1)


@app.command("build")
def build(
    server: Annotated[str, typer.Option("--server", help="The vault's URL, built in.")],
    org: Annotated[str, typer.Option("--org", help="The org fingerprint, built in.")],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", min=1, help="The largest attachment the page takes.")
    ] = DEFAULT_MAX_BYTES,
    dev: Annotated[
        bool, typer.Option("--dev", hidden=True, help="Weak codename KDF: tests only.")
    ] = False,
) -> None:
    """Write the source page for this org as one self-contained HTML file to hand out."""
    try:
        page = build_page(server=server, fingerprint=org, dev=dev, max_bytes=max_bytes)
        out.write_text(page, encoding="utf-8")
    except ClientError as exc:
        typer.echo(f"tvault: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"tvault: cannot write {out}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {out}: give it to sources through a channel the server does not control")


def register(root: typer.Typer) -> None:
    """Add `tvault page build`."""
    root.add_typer(app, name="page")
