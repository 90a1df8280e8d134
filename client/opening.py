"""`tvault open RECORD --out DIR`: fetch, prove, check, then decrypt and write.

The order is the point (docs/submissions.md, "Caseworker"):

1. fetch my header; its fetch proof must verify (`client.casework.fetch_header`);
2. stream the payload into ``DIR/.tvault-<RID>.partial``, resuming from what is there
   with ``Range`` after a dropped connection, hashing as it goes;
3. check the payload against the commitment the log holds, before decrypting a byte;
4. decrypt: a report is validated (`vault.report.parse_report`) and written as
   ``DIR/report-<RID>.json``, byte for byte the document the source sealed; an attachment
   is extracted by `crypto.envelope.open_attachment`, which refuses hostile archives, under
   its sanitised real name; then a report's attachments and its thread (replies checked
   against their authors' keys in the verified roster, follow-ups against the report's
   MAC check) follow.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from client.casework import Desk, FetchedHeader, attachments_of, fetch_header, file_key
from client.errors import ClientError
from crypto import age, messages
from crypto.codename import verify_followup
from crypto.commitment import PayloadHasher, verify_commitment
from crypto.envelope import REPORT_MAX_SIZE, display_name, open_attachment, open_report_plaintext
from crypto.errors import CryptoError, NoIdentityMatchError, ProofError
from vault.report import Report, parse_report

REPORT: Final = "report"
ATTACHMENT: Final = "attachment"
_CHUNK: Final = 1 << 20
# A report's payload: its largest plaintext, plus the STREAM tags and nonce.
_MAX_REPORT_PAYLOAD: Final = REPORT_MAX_SIZE + (REPORT_MAX_SIZE // (64 * 1024) + 2) * 16 + 16

Progress_ = Callable[[int], None]


@dataclass
class Opened:
    """What `open_record` wrote: paths by record, and notes for the person."""

    files: dict[str, Path] = field(default_factory=dict)
    age_file: Path | None = None
    thread: Path | None = None
    notes: list[str] = field(default_factory=list)


# --- the payload ----------------------------------------------------------------------


def _resume(sink: BinaryIO) -> PayloadHasher:
    """Hash what an earlier run left in `sink`, so the commitment covers every byte."""
    sink.seek(0)
    hasher = PayloadHasher.of_stream(sink, chunk_size=_CHUNK)
    sink.seek(0, os.SEEK_END)
    return hasher


def download(desk: Desk, fetched: FetchedHeader, sink: BinaryIO, advance: Progress_) -> bytes:
    """Stream the payload of `fetched` into `sink` (opened read-write), after whatever it
    holds already; return the SHA-256 of all of it.

    Raises `ClientError` if the server sends more or fewer bytes than the record's size,
    or the connection drops (what arrived stays in `sink`, to resume from).
    """
    hasher = _resume(sink)
    if hasher.size > fetched.size:
        sink.seek(0)
        sink.truncate()
        hasher = PayloadHasher()
    advance(hasher.size)
    if hasher.size < fetched.size:
        with desk.server.payload(fetched.record, offset=hasher.size) as response:
            if hasher.size and response.status_code != 206:  # the server started again
                sink.seek(0)
                sink.truncate()
                hasher = PayloadHasher()
            for chunk in response.iter_bytes(_CHUNK):
                if hasher.size + len(chunk) > fetched.size:
                    raise ClientError(
                        f"the server sent more than the {fetched.size} bytes of {fetched.record}"
                    )
                sink.write(chunk)
                hasher.update(chunk)
                advance(len(chunk))
    if hasher.size != fetched.size:
        raise ClientError(
            f"the payload of {fetched.record} ended after {hasher.size} of {fetched.size} "
            "bytes; run the same command again to continue"
        )
    sink.flush()
    return hasher.digest()


def _check_commitment(fetched: FetchedHeader, key: bytes, digest: bytes) -> None:
    try:
        verify_commitment(file_key=key, payload_sha256=digest, commitment=fetched.proof.commitment)
    except ProofError:
        raise ClientError(
            f"the payload of {fetched.record} is not the one its submission logged: the "
            "server swapped or damaged it; nothing was decrypted"
        ) from None


def _progress(label: str, total: int) -> tuple[Progress, Progress_]:
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(label, total=total)
    return bar, lambda n: bar.advance(task, n)


# --- reports ----------------------------------------------------------------------------


def read_report(desk: Desk, record: str) -> tuple[FetchedHeader, Report, bytes]:
    """Fetch, prove, check and decrypt the report `record` in memory (logged fetches).

    Returns my header, the validated report and its exact document bytes. Raises
    `ClientError` for a record that is not a report or fails any check.
    """
    fetched = fetch_header(desk, record)
    if fetched.kind != REPORT or fetched.size > _MAX_REPORT_PAYLOAD:
        raise ClientError(f"{record} is not a report record")
    key = file_key(desk, fetched)
    payload = io.BytesIO()
    digest = download(desk, fetched, payload, lambda _: None)
    _check_commitment(fetched, key, digest)
    payload.seek(0)
    report, document = _decrypt_report(record, payload, key)
    return fetched, report, document


def _decrypt_report(record: str, payload: BinaryIO, key: bytes) -> tuple[Report, bytes]:
    plaintext = io.BytesIO()
    age.open_payload(payload, plaintext, key)
    document = open_report_plaintext(plaintext.getvalue())
    try:
        return parse_report(document), document
    except Exception as exc:  # vault.errors.Invalid, which the client may not import
        raise ClientError(f"record {record} is not a valid report: {exc}") from None


def write_private(path: Path, data: bytes) -> None:
    """Write `path` whole (temporary file, then rename), mode 0600: it holds testimony."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.resolve().parent)
    with os.fdopen(fd, "wb") as sink:
        sink.write(data)
    os.replace(temporary, path)


# --- open -------------------------------------------------------------------------------


def open_record(desk: Desk, record: str, out_dir: Path, *, age_file: Path | None = None) -> Opened:
    """Open `record` into `out_dir` (created if missing); see the module docstring.

    A report brings its attachments and thread along. Raises `ClientError` at the first
    check that fails, naming the record; a hostile envelope is refused unopened.
    """
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    opened = Opened()
    fetched = _open_one(desk, record, out_dir, opened, age_file=age_file)
    if fetched.kind == REPORT:
        for attachment in _attachments(desk, record, opened.files[record]):
            _open_one(desk, attachment, out_dir, opened, age_file=None)
        opened.thread = _write_thread(desk, fetched, out_dir, opened)
    return opened


def _attachments(desk: Desk, record: str, report: Path) -> list[str]:
    """The report's attachments as the source listed them inside the sealed report, so the
    server cannot hide one; the server's listing only for a report that lists none."""
    named = json.loads(report.read_bytes()).get("attachments")
    if named is None:
        return attachments_of(desk, record)
    return [str(ref["record"]) for ref in named]


def _open_one(
    desk: Desk, record: str, out_dir: Path, opened: Opened, *, age_file: Path | None
) -> FetchedHeader:
    fetched = fetch_header(desk, record)
    if fetched.kind not in (REPORT, ATTACHMENT):
        raise ClientError(f"{record} is a record of an unknown kind")
    if fetched.kind == REPORT and fetched.size > _MAX_REPORT_PAYLOAD:
        raise ClientError(f"{record} is larger than any report; nothing was fetched")
    key = file_key(desk, fetched)
    partial = out_dir / f".tvault-{record}.partial"
    fd = os.open(partial, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "r+b") as sink:
        bar, advance = _progress(f"{fetched.kind} {record[:8]}", fetched.size)
        with bar:
            digest = download(desk, fetched, sink, advance)
        # Complete from here on: a later run starts afresh rather than resume it.
        try:
            _check_commitment(fetched, key, digest)
            if age_file is not None:
                _write_age_file(age_file, fetched.header, sink)
                opened.age_file = age_file
            sink.seek(0)
            opened.files[record] = _decrypt(fetched, key, sink, out_dir)
        except CryptoError as exc:
            raise ClientError(f"refusing {fetched.kind} {record}: {exc.diagnostics()}") from None
        finally:
            partial.unlink()
    return fetched


def _write_age_file(path: Path, header: bytes, payload: BinaryIO) -> None:
    """header ‖ payload: a standard age file that stock age opens with my identity."""
    payload.seek(0)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as sink:
        sink.write(header)
        while chunk := payload.read(_CHUNK):
            sink.write(chunk)
    os.replace(temporary, path)


def _decrypt(fetched: FetchedHeader, key: bytes, payload: BinaryIO, out_dir: Path) -> Path:
    if fetched.kind == REPORT:
        _, document = _decrypt_report(fetched.record, payload, key)
        path = out_dir / f"report-{fetched.record}.json"
        write_private(path, document)
        return path
    # The plaintext tar goes to a private file beside the output, removed whatever happens.
    fd, temporary = tempfile.mkstemp(prefix=".tvault-plain-", dir=out_dir)
    try:
        with os.fdopen(fd, "w+b") as plain:
            age.open_payload(payload, plain, key)
            plain.seek(0)
            return open_attachment(plain, out_dir)
    finally:
        os.unlink(temporary)


# --- the thread -------------------------------------------------------------------------


def _write_thread(desk: Desk, report: FetchedHeader, out_dir: Path, opened: Opened) -> Path:
    """Check and write ``DIR/thread-<RID>.json``: the replies (signatures checked) and the
    follow-ups (MACs checked). A forged one refuses the whole thread."""
    record = report.record
    thread = desk.server.call("GET", f"/records/{record}/thread", auth=True)
    document = json.loads(opened.files[record].read_bytes())
    check = (document.get("reply") or {}).get("followup_mac_check")
    try:
        replies = [_reply(desk, record, item, opened) for item in thread.get("replies", [])]
        followups = [
            _followup(desk, record, item, check, opened) for item in thread.get("followups", [])
        ]
    except ProofError as exc:
        raise ClientError(f"refusing the thread of {record}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ClientError(f"the server sent a malformed thread for {record}") from None
    path = out_dir / f"thread-{record}.json"
    body = {"record": record, "replies": replies, "followups": followups}
    write_private(path, json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8"))
    return path


def _reply(desk: Desk, record: str, item: dict[str, Any], opened: Opened) -> dict[str, Any]:
    sequence = int(item["sequence"])
    entry: dict[str, Any] = {"sequence": sequence}
    try:
        signed = desk.open_small(_b64(item["sealed"]))
    except NoIdentityMatchError:
        opened.notes.append(f"reply {sequence} was sealed before you held the record")
        return entry | {"sealed_to_you": False}
    except CryptoError as exc:
        raise ProofError(f"reply {sequence} does not decrypt ({exc})") from None
    reply = messages.open_reply(signed, verify_keys=desk.verify_keys())
    if (reply.record, reply.sequence) != (record, sequence):
        raise ProofError(f"reply {sequence} was signed for another record or place")
    author = desk.names().get(reply.author, reply.author)
    return entry | {"author": reply.author, "author_name": author, "message": reply.message}


def _followup(
    desk: Desk, record: str, item: dict[str, Any], check: str | None, opened: Opened
) -> dict[str, Any]:
    sequence, sealed = int(item["sequence"]), _b64(item["sealed"])
    if check is None:
        raise ProofError("the report carries no follow-up MAC check")
    message = messages.followup_message(
        record=record, sequence=sequence, sealed_sha256=hashlib.sha256(sealed).digest()
    )
    try:
        verify_followup(check=bytes.fromhex(check), message=message, mac=bytes.fromhex(item["mac"]))
    except ProofError:
        raise ProofError(f"follow-up {sequence} is not the source's (bad MAC)") from None
    entry: dict[str, Any] = {"sequence": sequence}
    try:
        plaintext = desk.open_small(sealed)
    except NoIdentityMatchError:
        opened.notes.append(f"follow-up {sequence} is sealed to intake only")
        return entry | {"sealed_to_you": False}
    except CryptoError as exc:
        raise ProofError(f"follow-up {sequence} does not decrypt ({exc})") from None
    try:
        return entry | {"content": json.loads(plaintext)}
    except (UnicodeDecodeError, ValueError):
        return entry | {"text": display_name(plaintext.decode("utf-8", "replace"))}


def _b64(value: Any) -> bytes:
    return base64.b64decode(str(value), validate=True)
