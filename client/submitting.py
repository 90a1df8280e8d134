"""`tvault submit`: seal a report and its attachments on this device and upload them
(docs/submissions.md, "Source: submitting").

The report is checked (`vault.report.parse_report`), the org pinned and its public roster
verified (`client.sourcing`), a codename made and shown before anything is uploaded, each
record sealed once to every intake recipient (and the recovery recipient) with one header
each, the proof of work solved over the exact record list, the payloads uploaded in chunks
and the submission completed; the receipt is then checked against the signed log.

Uploads resume. Within a run a dropped connection is retried, with backoff, from the
offset the server holds; across runs the encrypted resume file (`client.resume`) lets the
same command, run again with the codename, re-seal byte for byte and continue. Nothing
else is written to disk: attachments are sealed as they stream to the server.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, Protocol

import vault.report
from client.errors import ClientError
from client.home import Home
from client.receipts import check_entry, open_signed_checkpoint
from client.resume import RecordState, ResumeFile, UploadState, state_name
from client.source import (
    RETRIES,
    DroppedError,
    OffsetMismatchError,
    RefusedError,
    SourceServer,
    pause,
)
from client.sourcing import SourceOrg, pin_org, read_codename, wordlist
from crypto import age, envelope, pow
from crypto.age.primitives import TAG_SIZE
from crypto.age.stream import CHUNK_SIZE, NONCE_SIZE
from crypto.codename import Codename, CodenameKeys, generate
from crypto.commitment import PayloadHasher, commit
from crypto.errors import CryptoError
from crypto.profile import KdfProfile
from crypto.roster import canonical_json
from vault.report import AttachmentRef, Reply, Report, encode_report, parse_report

MAX_ATTACHMENTS: Final = 20
#: A record id as the server makes them: 26 base32 characters (docs/submissions.md).
ID_LENGTH: Final = 26


class Progress(Protocol):
    """Told how many payload bytes the server holds, of how many in all."""

    def start(self, total: int, done: int) -> None: ...

    def update(self, done: int) -> None: ...


class NoProgress:
    def start(self, total: int, done: int) -> None:
        pass

    def update(self, done: int) -> None:
        pass


@dataclass(frozen=True)
class Attachment:
    path: Path
    name: str
    size: int
    #: When the file last changed: a resumed upload must re-seal the very same bytes.
    mtime_ns: int


@dataclass(frozen=True)
class Submitted:
    codename: Codename
    record_id: str
    log_index: int
    attachments: list[str]
    resumed: bool


def payload_size(plain: int) -> int:
    """The age payload's length for `plain` bytes: nonce, then 64 KiB chunks with tags."""
    chunks = max(1, -(-plain // CHUNK_SIZE))
    return NONCE_SIZE + plain + chunks * TAG_SIZE


def read_report(path: Path) -> tuple[bytes, Report]:
    """The report file's bytes and the report in them. Raises `ClientError` naming the
    bad fields (`vault.report.parse_report`'s message)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ClientError(f"cannot read the report {path}: {exc.strerror}") from None
    try:
        return raw, parse_report(raw)
    # vault.errors.Invalid, reached through vault.report: the client layer may import
    # vault.report and nothing else of vault (DESIGN.md section 9).
    except vault.report.Invalid as exc:  # type: ignore[attr-defined]
        raise ClientError(f"{path}: {exc}") from None


def check_attachments(paths: list[Path]) -> list[Attachment]:
    """Each file to attach, checked: it exists, is a regular file, has a usable name."""
    if len(paths) > MAX_ATTACHMENTS:
        raise ClientError(f"at most {MAX_ATTACHMENTS} attachments go with one report")
    found = []
    for path in paths:
        shown = envelope.display_name(str(path))
        if not path.is_file():
            raise ClientError(f"attachment {shown}: no such file (nothing was sent)")
        try:
            name = envelope.check_name(path.name)
        except envelope.EnvelopeError as exc:
            raise ClientError(f"attachment {shown}: {exc}") from None
        info = path.stat()
        found.append(Attachment(path, name, info.st_size, info.st_mtime_ns))
    return found


def sealed_report(report: Report, keys: CodenameKeys, attachment_ids: list[str]) -> bytes:
    """The padded report plaintext: the report with the reply block and attachment list."""
    complete = report.model_copy(
        update={
            "reply": Reply(
                recipient=keys.reply_recipient, followup_mac_check=keys.followup_check.hex()
            ),
            "attachments": [AttachmentRef(record=rid) for rid in attachment_ids] or None,
        }
    )
    return envelope.seal_report_plaintext(encode_report(complete))


def submit(
    server: SourceServer,
    home: Home,
    *,
    fingerprint: str,
    report_path: Path,
    attachment_paths: list[Path],
    lang: Literal["ko", "en"],
    profile: KdfProfile,
    announce: Callable[[Codename, bool], None],
    progress: Progress,
) -> Submitted:
    """Seal and upload; return what the source must keep. Raises `ClientError` saying why.

    `announce(codename, resumed)` is called before the first payload byte is uploaded.
    """
    raw, report = read_report(report_path)
    attachments = check_attachments(attachment_paths)
    org = pin_org(server, fingerprint)
    holders = org.holders
    resume = ResumeFile(home, state_name(org.fingerprint, raw))
    state: UploadState | None = None
    held: dict[str, int] | None = None
    if resume.exists():
        codename = read_codename()
        keys = org.derive(codename, profile)
        state = resume.load(keys.resume_key)
        _check_resumable(state, org, attachments, holders, resume)
        held = _status(server, state)
        if held is None:  # expired: start over with the same codename
            resume.delete()
            state = None
    else:
        codename = generate(wordlist(lang))
        keys = org.derive(codename, profile)
    resumed = state is not None
    if state is None:
        state = _create(server, org, report, keys, attachments, holders)
    # Shown once the server took the submission, so a refusal shows no codename in vain;
    # and before the resume file is written, so no run leaves one whose codename was
    # never shown.
    announce(codename, resumed)
    if not resumed:
        resume.save(keys.resume_key, state)
    plaintexts = _plaintexts(report, keys, attachments, state)
    commitments = _upload(server, state, plaintexts, progress, held=held or {})
    done = _complete(server, org, state, commitments, keys, holders)
    resume.delete()
    return Submitted(codename, done[0][0], done[0][1], [rid for rid, _ in done[1:]], resumed)


# --- creating the submission -------------------------------------------------------


def _create(
    server: SourceServer,
    org: SourceOrg,
    report: Report,
    keys: CodenameKeys,
    attachments: list[Attachment],
    holders: dict[str, str],
) -> UploadState:
    placeholder = ["A" * ID_LENGTH] * len(attachments)
    sizes = [payload_size(len(sealed_report(report, keys, placeholder)))]
    sizes += [payload_size(envelope.attachment_size(a.name, a.size)) for a in attachments]
    records = [
        {"kind": "report" if i == 0 else "attachment", "size": size} for i, size in enumerate(sizes)
    ]
    created = _paid_submission(server, records)
    try:
        ids = [str(r["id"]) for r in created["records"]]
        echoed = [{"kind": r["kind"], "size": r["size"]} for r in created["records"]]
        submission, chunk_bytes = str(created["id"]), int(created["chunk_bytes"])
    except (KeyError, TypeError, ValueError):
        raise ClientError(f"{server.url} sent a malformed answer to the submission") from None
    if echoed != records or chunk_bytes < 1 or any(len(i) != ID_LENGTH for i in ids):
        raise ClientError(f"{server.url} answered for other records than those sent")
    state = UploadState(submission, org.roster.version, chunk_bytes)
    recipients = list(holders.items())
    for i, (rid, size) in enumerate(zip(ids, sizes, strict=True)):
        file_key = age.new_file_key()
        headers = {holder: age.make_header(file_key, [r]) for holder, r in recipients}
        attachment = attachments[i - 1] if i else None
        state.records.append(
            RecordState(
                id=rid,
                kind="report" if i == 0 else "attachment",
                size=size,
                file_key=file_key,
                nonce=os.urandom(NONCE_SIZE),
                headers=headers,
                name=None if attachment is None else attachment.name,
                plain_size=None if attachment is None else attachment.size,
                mtime_ns=None if attachment is None else attachment.mtime_ns,
            )
        )
    return state


def _paid_submission(server: SourceServer, records: list[dict[str, Any]]) -> Any:
    """`POST /submissions` with a solved token. After a drop the request may have been
    taken, so its token is spent: each try pays with a fresh one (a submission staged by a
    lost try expires unused)."""
    binding = hashlib.sha256(canonical_json(records)).digest()
    for attempt in range(RETRIES):
        token = _call(server, "POST", "/tokens", None)
        try:
            text = str(token["token"])
            paid = {"token": text, "counter": pow.solve(text, binding=binding)}
        except (KeyError, TypeError, CryptoError):
            raise ClientError(f"{server.url} sent a malformed proof-of-work token") from None
        try:
            return server.send(
                "POST", "/submissions", {"records": records, "pow": paid}, retry=False
            )
        except DroppedError as exc:
            if attempt == RETRIES - 1:
                raise
            pause(attempt, exc.retry_after)
        except RefusedError as exc:
            raise ClientError(_plain(exc)) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _call(server: SourceServer, method: str, path: str, body: Any) -> Any:
    """A JSON call, retried while the connection drops; refusals made plain."""
    try:
        return server.send(method, path, body)
    except RefusedError as exc:
        raise ClientError(_plain(exc)) from None


def _plain(exc: RefusedError) -> str:
    if exc.status == 413:
        return (
            "the server refuses a record this large (413): an attachment is over the org's "
            f"size limit{f' ({exc.detail})' if exc.detail else ''}; nothing was uploaded"
        )
    if exc.status == 403 and exc.detail:
        return f"the proof of work was refused: {exc.detail}"
    return str(exc)


# --- resuming ----------------------------------------------------------------------


def _check_resumable(
    state: UploadState,
    org: SourceOrg,
    attachments: list[Attachment],
    holders: dict[str, str],
    resume: ResumeFile,
) -> None:
    if org.roster.version < state.roster_version:
        raise ClientError(
            f"refusing the server's roster: version {org.roster.version} is older than "
            f"version {state.roster_version} this upload started with (a rollback)"
        )
    before = [(r.name, r.plain_size) for r in state.records[1:]]
    if before != [(a.name, a.size) for a in attachments]:
        raise ClientError(
            "an unfinished upload of this report had other attachments: run the command "
            f"with the same --attach files, or delete {resume.path} to start again"
        )
    for record, attachment in zip(state.records[1:], attachments, strict=True):
        if record.mtime_ns != attachment.mtime_ns:
            shown = envelope.display_name(attachment.name)
            raise ClientError(
                f"{shown} changed since its upload started, so what the server holds of it "
                f"no longer matches: delete {resume.path} to start again"
            )
    if any(set(r.headers) != set(holders) for r in state.records):
        # The roster changed since: headers made for the old one would be refused.
        raise ClientError(
            "the org's intake caseworkers changed since this upload started; delete "
            f"{resume.path} and submit again (with a new codename)"
        )


def _status(server: SourceServer, state: UploadState) -> dict[str, int] | None:
    """Record id to the payload bytes the server holds; None if the submission expired."""
    try:
        answer = server.send("GET", f"/submissions/{state.submission}")
    except RefusedError as exc:
        if exc.status == 404:
            return None
        raise ClientError(str(exc)) from None
    try:
        return {str(r["id"]): int(r["received"]) for r in answer["records"]}
    except (KeyError, TypeError, ValueError):
        raise ClientError(f"{server.url} sent a malformed submission status") from None


# --- sealing and uploading ---------------------------------------------------------

Opener = Callable[[], AbstractContextManager[BinaryIO]]


def _plaintexts(
    report: Report, keys: CodenameKeys, attachments: list[Attachment], state: UploadState
) -> list[Opener]:
    document = sealed_report(report, keys, [r.id for r in state.records[1:]])
    if payload_size(len(document)) != state.records[0].size:
        raise ClientError("the report changed size since its upload started")

    @contextmanager
    def report_plaintext() -> Iterator[BinaryIO]:
        yield io.BytesIO(document)

    return [report_plaintext, *(_attachment_opener(a) for a in attachments)]


def _attachment_opener(attachment: Attachment) -> Opener:
    @contextmanager
    def opened() -> Iterator[BinaryIO]:
        # The envelope streams through a pipe from a writer thread: never whole in memory
        # and never on disk.
        read_end, write_end = os.pipe()
        reader = os.fdopen(read_end, "rb")
        failures: list[BaseException] = []

        def write() -> None:
            try:
                with os.fdopen(write_end, "wb") as sink, attachment.path.open("rb") as src:
                    envelope.write_attachment(src, sink, name=attachment.name, size=attachment.size)
            except BrokenPipeError:
                pass  # the reader stopped early and reports why
            except BaseException as exc:  # handed to the reading thread
                failures.append(exc)

        thread = threading.Thread(target=write, name="tvault-envelope", daemon=True)
        thread.start()
        try:
            yield reader
        finally:
            reader.close()
            thread.join()
        if failures:
            shown = envelope.display_name(attachment.name)
            raise ClientError(f"{shown} changed or became unreadable while it was being sealed")

    return opened


class _Restart(Exception):  # noqa: N818 - a signal, not an error
    """The server holds another offset than the stream can continue from: re-seal."""

    def __init__(self, received: int) -> None:
        super().__init__(received)
        self.received = received


class _ChunkSink:
    """Where `seal_payload` writes: hashes every byte, uploads those past `start`."""

    def __init__(
        self,
        server: SourceServer,
        state: UploadState,
        record: RecordState,
        *,
        start: int,
        on_stored: Callable[[int], None],
    ) -> None:
        self.server = server
        self.state = state
        self.record = record
        self.position = 0
        self.sent = start
        self.buffer = bytearray()
        self.hasher = PayloadHasher()
        self.on_stored = on_stored

    def write(self, data: bytes | memoryview) -> int:
        data = bytes(data)
        self.hasher.update(data)
        end = self.position + len(data)
        if end > self.record.size:
            raise ClientError("a record sealed larger than declared")
        if end > self.sent + len(self.buffer):
            self.buffer += data[max(0, self.sent + len(self.buffer) - self.position) :]
        self.position = end
        limit = self.state.chunk_bytes
        while len(self.buffer) >= limit:
            self._put(bytes(self.buffer[:limit]))
            del self.buffer[:limit]
        return len(data)

    def finish(self) -> bytes:
        """Upload what is left; the payload's SHA-256."""
        if self.buffer:
            self._put(bytes(self.buffer))
            self.buffer.clear()
        if self.position != self.record.size:
            raise ClientError("a record sealed to another size than declared")
        return self.hasher.digest()

    def _put(self, piece: bytes) -> None:
        offset, end = self.sent, self.sent + len(piece)
        for attempt in range(RETRIES):
            try:
                received = self.server.put_payload(
                    self.state.submission, self.record.id, offset=offset, data=piece
                )
            except OffsetMismatchError as mismatch:
                received = mismatch.received
            except DroppedError as exc:
                if attempt == RETRIES - 1:
                    raise
                pause(attempt, exc.retry_after)
                try:
                    received = (_status(self.server, self.state) or {})[self.record.id]
                except (DroppedError, KeyError):
                    continue
            except RefusedError as exc:
                raise ClientError(_plain(exc)) from None
            if received == end:
                self.sent = end
                self.on_stored(end)
                return
            if received != offset:
                raise _Restart(received)
        raise ClientError(f"{self.server.url} keeps refusing the upload; run the command again")


def _stored(progress: Progress, before: int) -> Callable[[int], None]:
    """Tell `progress` a record that starts `before` bytes into the upload holds `n`."""
    return lambda n: progress.update(before + n)


def _upload(
    server: SourceServer,
    state: UploadState,
    plaintexts: list[Opener],
    progress: Progress,
    *,
    held: dict[str, int],
) -> list[bytes]:
    """Upload every record from where the server is (`held`: record id to bytes held);
    each record's commitment."""
    total = sum(r.size for r in state.records)
    before = [sum(r.size for r in state.records[:i]) for i in range(len(state.records))]
    progress.start(total, sum(min(held.get(r.id, 0), r.size) for r in state.records))
    commitments = []
    for record, opener, offset in zip(state.records, plaintexts, before, strict=True):
        start = held.get(record.id, 0)
        while True:
            sink = _ChunkSink(
                server, state, record, start=start, on_stored=_stored(progress, offset)
            )
            try:
                with opener() as plain:
                    age.seal_payload(plain, sink, record.file_key, nonce=record.nonce)
                digest = sink.finish()
            except _Restart as restart:
                start = restart.received
                continue
            break
        commitments.append(commit(file_key=record.file_key, payload_sha256=digest))
    return commitments


# --- completing --------------------------------------------------------------------


def _complete(
    server: SourceServer,
    org: SourceOrg,
    state: UploadState,
    commitments: list[bytes],
    keys: CodenameKeys,
    holders: dict[str, str],
) -> list[tuple[str, int]]:
    body = {
        "records": [
            {
                "id": record.id,
                "commitment": commitment.hex(),
                "headers": {h: base64.b64encode(v).decode() for h, v in record.headers.items()},
            }
            for record, commitment in zip(state.records, commitments, strict=True)
        ],
        "lookup_hash": keys.lookup_hash().hex(),
    }
    done = _call(server, "POST", f"/submissions/{state.submission}/complete", body)
    try:
        indices = {str(r["id"]): int(r["log_index"]) for r in done["records"]}
        receipt = done["receipt"]
        entry = base64.b64decode(receipt["entry"], validate=True)
        proof = [base64.b64decode(node, validate=True) for node in receipt["proof"]]
        index, note = int(receipt["index"]), str(receipt["checkpoint"]).encode()
    except (KeyError, TypeError, ValueError):
        raise ClientError(f"{server.url} sent a malformed receipt") from None
    if set(indices) != {r.id for r in state.records}:
        raise ClientError(f"{server.url} completed other records than those uploaded")
    report = state.records[0]
    if index != indices[report.id]:
        raise ClientError(f"{server.url} sent the receipt of another entry")
    checkpoint = open_signed_checkpoint(org.roster, note)
    check_entry(
        entry,
        index=index,
        proof=proof,
        checkpoint=checkpoint,
        record=report.id,
        holders=set(holders),
        commitment=commitments[0].hex(),
    )
    return [(r.id, indices[r.id]) for r in state.records]
