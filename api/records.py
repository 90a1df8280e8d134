"""`/v1/records`: the inbox, headers, payloads, grants, revokes, threads, replies, exports
and deletion, for logged-in intake and caseworker accounts (docs/submissions.md,
"Caseworker").

Without a valid session every route answers 401 (counted, as anonymous refusals are);
an admin or auditor gets 403 and a `refused` entry; a record the caller does not hold,
or that does not exist, gets the same 404 and a `refused` entry. The rules live in
`vault.records`; this module only translates between HTTP and it.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable, Iterator
from datetime import date
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Header, Path, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, WithJsonSchema
from starlette.exceptions import HTTPException

from api.deps import CurrentAccount
from api.log import EngineDep, LogSignerDep
from vault.audit.events import OPAQUE_ID_PATTERN
from vault.records import RangeNotSatisfiable, Records, RetentionSweep, open_payload
from vault.records.service import MAX_HEADER_BYTES, MAX_SEALED_BYTES, MAX_STATEMENT_BYTES
from vault.settings import Settings

router = APIRouter(prefix="/records", tags=["records"])

#: A record, submission or case id: 128 random bits in base32 (docs/submissions.md).
ID_PATTERN: Final = r"^[A-Z2-7]{26}$"
_RANGE: Final = re.compile(r"bytes=(\d{1,18})-")


def base64_decoder(max_bytes: int) -> Callable[[object], bytes]:
    """A validator of standard, padded base64 text of at most `max_bytes` decoded bytes.
    Strict: a stray character is an error, not skipped."""
    limit = (max_bytes + 2) // 3 * 4

    def decode(value: object) -> bytes:
        if not isinstance(value, str):
            raise ValueError("expected a base64 string")
        if len(value) > limit:
            raise ValueError(f"at most {max_bytes} bytes")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not standard base64") from None

    return decode


#: How a base64 field appears in the OpenAPI document.
B64_SCHEMA: Final = WithJsonSchema({"type": "string", "contentEncoding": "base64"})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


RecordId = Annotated[str, Path(pattern=ID_PATTERN)]
AccountId = Annotated[str, Path(pattern=OPAQUE_ID_PATTERN)]
Target = Annotated[str, StringConstraints(pattern=OPAQUE_ID_PATTERN)]
HeaderBytes = Annotated[bytes, BeforeValidator(base64_decoder(MAX_HEADER_BYTES)), B64_SCHEMA]
SealedBytes = Annotated[bytes, BeforeValidator(base64_decoder(MAX_SEALED_BYTES)), B64_SCHEMA]


_records_lock = threading.Lock()


def get_records(request: Request, engine: EngineDep) -> Records:
    """The app's `Records`, made on first use: one per process, so the retention sweep
    (`TVAULT_RETENTION_DAYS`) runs at most once an hour however many requests come."""
    state = request.app.state
    with _records_lock:
        records = getattr(state, "records", None)
        if records is None:
            settings = state.settings
            assert isinstance(settings, Settings)
            sweep = RetentionSweep(engine, retention_days=settings.retention_days)
            records = state.records = Records(engine, retention=sweep)
    assert isinstance(records, Records)
    return records


RecordsDep = Annotated[Records, Depends(get_records)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordOut(BaseModel):
    id: str
    kind: str
    parent: str | None
    size: int
    day: date
    log_index: int
    holders: list[str]


class SubmittedProof(BaseModel):
    """The record's `record.submitted` entry and its inclusion proof at `fetch.tree_size`."""

    index: int
    entry: str
    proof: list[str]


class FetchProof(BaseModel):
    """This fetch's own entry, its inclusion proof and the checkpoint that covers it."""

    index: int
    entry: str
    tree_size: int
    proof: list[str]
    checkpoint: str


class HeaderOut(BaseModel):
    header: str
    size: int
    kind: str
    parent: str | None
    holders: list[str]
    submitted: SubmittedProof
    fetch: FetchProof


class GrantIn(_Body):
    target: Target
    header: HeaderBytes
    statement: Annotated[str, StringConstraints(min_length=1, max_length=MAX_STATEMENT_BYTES)]


class GrantOut(BaseModel):
    granted: bool


class ReplyOut(BaseModel):
    sequence: int


class ReplyIn(_Body):
    sealed: SealedBytes


class ThreadReply(BaseModel):
    sequence: int
    sealed: str
    author: str


class ThreadFollowup(BaseModel):
    sequence: int
    sealed: str
    mac: str


class ThreadOut(BaseModel):
    replies: list[ThreadReply]
    followups: list[ThreadFollowup]


class ExportOut(BaseModel):
    """The index of the `record.exported` entry the export was logged as."""

    index: int


@router.get("")
def inbox(account: CurrentAccount, records: RecordsDep) -> list[RecordOut]:
    """Records the caller holds a header for. Not logged: ids and sizes only."""
    return [
        RecordOut(
            id=r.id,
            kind=r.kind.value,
            parent=r.parent,
            size=r.size,
            day=r.day,
            log_index=r.log_index,
            holders=r.holders,
        )
        for r in records.inbox(account)
    ]


@router.get("/{record_id}/header")
def header(
    record_id: RecordId, account: CurrentAccount, records: RecordsDep, signer: LogSignerDep
) -> HeaderOut:
    """The caller's header, with the proof of this very fetch's log entry and of the
    record's submission entry in the same checkpoint."""
    fetched = records.fetch_header(account, record_id, signer=signer)
    info, fetch = fetched.record, fetched.fetch
    return HeaderOut(
        header=b64(fetched.header),
        size=info.size,
        kind=info.kind.value,
        parent=info.parent,
        holders=info.holders,
        submitted=SubmittedProof(
            index=info.log_index,
            entry=b64(fetched.submitted_entry),
            proof=[b64(node) for node in fetched.submitted_proof],
        ),
        fetch=FetchProof(
            index=fetch.index,
            entry=b64(fetch.entry),
            tree_size=fetch.tree_size,
            proof=[b64(node) for node in fetch.proof],
            checkpoint=fetch.checkpoint.decode("utf-8"),
        ),
    )


@router.get(
    "/{record_id}/payload",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {"content": {"application/octet-stream": {}}},
    },
)
def payload(
    record_id: RecordId,
    account: CurrentAccount,
    engine: EngineDep,
    range_: Annotated[str | None, Header(alias="range", max_length=64)] = None,
) -> StreamingResponse:
    """The payload, streamed; `Range: bytes=N-` resumes from byte N (206). A fetch from
    byte 0 is logged before the first byte is sent."""
    start = 0 if range_ is None else _range_start(range_)
    try:
        stream = open_payload(engine, account, record_id, start=start)
    except RangeNotSatisfiable as exc:
        raise _unsatisfiable(exc.size, exc.diagnostics()) from None
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(stream.size - stream.start)}
    code = status.HTTP_200_OK
    if range_ is not None:
        headers["Content-Range"] = f"bytes {stream.start}-{stream.size - 1}/{stream.size}"
        code = status.HTTP_206_PARTIAL_CONTENT
    return StreamingResponse(
        _closing(stream.chunks),
        status_code=code,
        media_type="application/octet-stream",
        headers=headers,
    )


def _range_start(value: str) -> int:
    match = _RANGE.fullmatch(value.strip())
    if match is None:
        raise _unsatisfiable(None, "only a Range of the form bytes=N- is served")
    return int(match.group(1))


def _unsatisfiable(size: int | None, detail: str) -> HTTPException:
    length = "*" if size is None else str(size)
    return HTTPException(
        status.HTTP_416_RANGE_NOT_SATISFIABLE,
        detail,
        headers={"Content-Range": f"bytes */{length}"},
    )


def _closing(chunks: Iterator[bytes]) -> Iterator[bytes]:
    # A client that hangs up mid-stream closes this generator; close the inner one too,
    # so it stops reading chunks at once.
    try:
        yield from chunks
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


@router.post("/{record_id}/grants", status_code=status.HTTP_201_CREATED)
def grant(
    record_id: RecordId,
    body: GrantIn,
    account: CurrentAccount,
    records: RecordsDep,
    response: Response,
) -> GrantOut:
    """Add a header for a colleague, with the caller's signed grant statement. 201 if
    granted now, 200 with granted false if the colleague held it already."""
    granted = records.grant(
        account,
        record_id,
        target=body.target,
        header=body.header,
        statement=body.statement.encode("utf-8"),
    )
    if not granted:
        response.status_code = status.HTTP_200_OK
    return GrantOut(granted=granted)


@router.delete("/{record_id}/grants/{target}", status_code=status.HTTP_204_NO_CONTENT)
def revoke(
    record_id: RecordId, target: AccountId, account: CurrentAccount, records: RecordsDep
) -> Response:
    """Delete the colleague's header of the record."""
    records.revoke(account, record_id, target=target)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{record_id}/thread")
def thread(record_id: RecordId, account: CurrentAccount, records: RecordsDep) -> ThreadOut:
    """The replies to the source and the source's follow-ups, in sequence order."""
    found = records.thread(account, record_id)
    return ThreadOut(
        replies=[
            ThreadReply(sequence=r.sequence, sealed=b64(r.sealed), author=r.author)
            for r in found.replies
        ],
        followups=[
            ThreadFollowup(sequence=f.sequence, sealed=b64(f.sealed), mac=bytes(f.mac).hex())
            for f in found.followups
        ],
    )


@router.post("/{record_id}/replies", status_code=status.HTTP_201_CREATED)
def reply(
    record_id: RecordId, body: ReplyIn, account: CurrentAccount, records: RecordsDep
) -> ReplyOut:
    """Store a sealed, signed reply to the source as the next in sequence."""
    return ReplyOut(sequence=records.reply(account, record_id, sealed=body.sealed))


@router.post("/{record_id}/exports", status_code=status.HTTP_201_CREATED)
def export(record_id: RecordId, account: CurrentAccount, records: RecordsDep) -> ExportOut:
    """Log an export; the client calls it before it writes the export."""
    return ExportOut(index=records.export(account, record_id))


@router.delete("/{record_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(record_id: RecordId, account: CurrentAccount, records: RecordsDep) -> Response:
    """Delete the record's headers, payload, replies and follow-ups."""
    records.delete(account, record_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
