"""`/v1/submissions`: a source stages a submission, uploads its payloads, completes it.

docs/submissions.md, "Source: submitting". No route here needs an account and none knows
who calls: the address is gone before any route runs (`api.privacy`), nothing is logged
per request, and refusals of the proof of work are counted, not logged one by one.

The chunk `PUT` is the one body allowed past the 1 MiB limit, up to `max_chunk_bytes`
(`body_limit_overrides`); it holds one chunk in memory at a time.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import threading
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Annotated, Any, Final, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.fast_route import documented, json_answer, json_body
from api.limits import Override, RateLimits
from api.log import LogSignerDep, log_signer_of
from vault.audit import LoggedEvent
from vault.errors import Invalid
from vault.models import RecordKind
from vault.settings import Settings
from vault.submissions.errors import PowRefused, TooLarge
from vault.submissions.pow import ProofOfWork, load_or_create_key
from vault.submissions.service import (
    Completed,
    NewRecord,
    Sealing,
    Submissions,
    pow_binding,
    whole_completed,
)

router = APIRouter(prefix="/submissions", tags=["submissions"])

#: A submission, record or case id: 128 random bits in base32.
ID_PATTERN: Final = r"^[A-Z2-7]{26}$"
#: Most holders a header map may name: intake caseworkers plus the recovery recipient.
MAX_HOLDERS: Final = 256
#: Largest age header of one stanza (a post-quantum stanza is about 1.6 KiB).
MAX_HEADER_BYTES: Final = 16 * 1024
#: Largest record list: a report and the most attachments any policy allows.
MAX_RECORDS: Final = 1 + 1000

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Holder = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def _b64_form(value: object, max_bytes: int) -> str:
    """`value` if it is text no longer than base64 of `max_bytes` bytes (not decoded)."""
    if not isinstance(value, str):
        raise ValueError("must be base64 text")
    if len(value) > 4 * math.ceil(max_bytes / 3):
        raise ValueError(f"is longer than {max_bytes} bytes")
    return value


def _strict_b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not standard base64") from None


def b64_field(max_bytes: int) -> Any:
    """Standard, padded base64 of at most `max_bytes` bytes, decoded strictly to bytes."""
    return Annotated[
        bytes,
        BeforeValidator(lambda value: _strict_b64(_b64_form(value, max_bytes))),
        WithJsonSchema(
            {"type": "string", "format": "byte", "maxLength": 4 * math.ceil(max_bytes / 3)}
        ),
    ]


class B64Text(str):
    """Base64 text kept as sent (the records a proof of work is bound to are hashed
    exactly as the client sent them), with its bytes, decoded once, in `data`."""

    data: bytes


def b64_text(max_bytes: int) -> Any:
    """As `b64_field`, but the value is a `B64Text`: the text as sent, and its bytes."""

    def decoded(value: str) -> B64Text:
        text = B64Text(value)
        text.data = _strict_b64(value)
        return text

    return Annotated[
        str,
        BeforeValidator(lambda value: _b64_form(value, max_bytes)),
        AfterValidator(decoded),
        WithJsonSchema(
            {"type": "string", "format": "byte", "maxLength": 4 * math.ceil(max_bytes / 3)}
        ),
    ]


def _data(text: str) -> bytes:
    """The bytes of a `b64_text` field's value (decoded when it was validated)."""
    assert isinstance(text, B64Text), "not a b64_text field's value"
    return text.data


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PowIn(Body):
    token: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    counter: int = Field(ge=0, lt=2**64)


Header = b64_field(MAX_HEADER_BYTES)
HeaderText = b64_text(MAX_HEADER_BYTES)
#: A report sent whole: bounded again by the body limit and `max_chunk_bytes`.
PayloadText = b64_text(64 * 1024 * 1024)


class RecordIn(Body):
    """A record to stage; a one-request report also carries its payload and sealing."""

    kind: RecordKind
    size: int = Field(ge=1, le=2**53 - 1)
    payload: PayloadText | None = None  # type: ignore[valid-type]
    commitment: Hex32 | None = None
    headers: dict[Holder, HeaderText] | None = Field(default=None, max_length=MAX_HOLDERS)  # type: ignore[valid-type]


class SubmissionIn(Body):
    records: list[RecordIn] = Field(min_length=1, max_length=MAX_RECORDS)
    pow: PowIn
    lookup_hash: Hex32 | None = None


class RecordOut(BaseModel):
    id: str
    kind: RecordKind
    size: int


class CreatedOut(BaseModel):
    id: str
    records: list[RecordOut]
    chunk_bytes: int
    expires: date


class ChunkOut(BaseModel):
    received: int


class RecordStateOut(RecordOut):
    received: int


class StatusOut(BaseModel):
    records: list[RecordStateOut]
    state: Literal["open", "complete"]


class SealingIn(Body):
    id: Id
    commitment: Hex32
    headers: dict[Holder, Header] = Field(min_length=1, max_length=MAX_HOLDERS)  # type: ignore[valid-type]


class CompleteIn(Body):
    records: list[SealingIn] = Field(min_length=1, max_length=MAX_RECORDS)
    lookup_hash: Hex32


class LoggedOut(BaseModel):
    id: str
    log_index: int


class Receipt(BaseModel):
    """The report's `record.submitted` entry, proven in a signed checkpoint."""

    index: int
    entry: str = Field(description="The entry's RFC 8785 bytes, base64.")
    tree_size: int
    proof: list[str]
    checkpoint: str = Field(description="The signed checkpoint note.")

    @classmethod
    def of(cls, logged: LoggedEvent) -> Receipt:
        return cls(
            index=logged.index,
            entry=b64(logged.entry),
            tree_size=logged.tree_size,
            proof=[b64(node) for node in logged.proof],
            checkpoint=logged.checkpoint.decode("utf-8"),
        )


class CompletedOut(BaseModel):
    records: list[LoggedOut]
    receipt: Receipt

    @classmethod
    def of(cls, completed: Completed) -> CompletedOut:
        return cls(**_completed_fields(completed))


class SubmittedOut(CompletedOut):
    """A one-request report: `complete`'s answer and the submission's id."""

    id: str

    @classmethod
    def of(cls, completed: Completed) -> SubmittedOut:
        return cls(id=completed.id, **_completed_fields(completed))


def _completed_fields(completed: Completed) -> dict[str, Any]:
    return {
        "records": [LoggedOut(id=rid, log_index=index) for rid, index in completed.log_indices],
        "receipt": Receipt.of(completed.receipt),
    }


# --- dependencies -------------------------------------------------------------------------

_state_lock = threading.Lock()
_T = TypeVar("_T")


def _settings(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


def _once(request: Request, name: str, kind: type[_T], make: Callable[[Settings], _T]) -> _T:
    """The app's `name` (in `app.state`), made by `make` on first use."""
    state = request.app.state
    value = getattr(state, name, None)
    if value is None:  # the first use: made once, under the lock
        with _state_lock:
            value = getattr(state, name, None)
            if value is None:
                value = make(_settings(request))
                setattr(state, name, value)
    assert isinstance(value, kind)
    return value


async def get_submissions(request: Request) -> Submissions:
    """The app's `Submissions`, made on first use (expired uploads are swept, at most
    hourly, by the route that starts a submission: in `Submissions.create`, or in
    `_submit_whole` here for a report sent whole).

    Async, as `rate_limited`'s dependency is, though neither awaits: FastAPI runs them on
    the event loop rather than handing each to a worker thread and back, which under load
    cost more than the work they do."""

    def make(settings: Settings) -> Submissions:
        state = request.app.state
        pow = ProofOfWork(load_or_create_key(settings.data_dir), bits=settings.kdf.pow_bits)
        service = Submissions(
            engine=state.engine, settings=settings, pow=pow, refusals=state.accounts.refusals
        )
        return service

    return _once(request, "submissions", Submissions, make)


SubmissionsDep = Annotated[Submissions, Depends(get_submissions)]


def rate_limited(name: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A dependency taking one request from the app's bucket for `name` (on the event loop,
    see `get_submissions`)."""

    def make(settings: Settings) -> RateLimits:
        return RateLimits(rate=settings.anonymous_rate, burst=settings.anonymous_burst)

    async def take(request: Request) -> None:
        _once(request, "rate_limits", RateLimits, make).take(name)

    return take


def body_limit_overrides(settings: Settings, prefix: str) -> list[Override]:
    """Bodies above `max_body_bytes` these routes take: a chunk, a report sent whole (its
    payload in base64), and a completion's headers (records x holders)."""
    root = re.escape(f"{prefix}/submissions")
    whole = settings.max_body_bytes + 4 * math.ceil(
        min(settings.max_report_bytes, settings.max_chunk_bytes) / 3
    )
    headers = max(settings.max_body_bytes, settings.max_chunk_bytes)
    return [
        Override(
            "PUT",
            re.compile(rf"{root}/[A-Z2-7]{{26}}/records/[A-Z2-7]{{26}}/payload"),
            settings.max_chunk_bytes,
            streamed=True,
        ),
        Override("POST", re.compile(root), whole),
        Override("POST", re.compile(rf"{root}/[A-Z2-7]{{26}}/complete"), headers),
    ]


# --- routes -------------------------------------------------------------------------------

SubmissionId = Annotated[str, Path(pattern=ID_PATTERN)]
RecordId = Annotated[str, Path(pattern=ID_PATTERN)]


_take_submission = rate_limited("submissions")

#: The bodies routes here parse themselves (`api.fast_route`), for the OpenAPI document.
PARSED_BODIES: Final = (SubmissionIn,)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedOut | SubmittedOut,
    openapi_extra=documented(SubmissionIn),
)
async def create_submission(request: Request) -> Response:
    """Stage a submission paid for by a solved proof-of-work token; or, for a report with
    no attachments whose payload, commitment and headers come along, submit it whole.

    The body is a `SubmissionIn` (JSON; 415 otherwise). This, the busiest route, is served
    directly (`api.fast_route`): it parses its body and serializes its answer itself, the
    body after the rate limit, so a flood of malformed bodies is limited like any other."""
    await _take_submission(request)
    body = await json_body(request, SubmissionIn)
    submissions = await get_submissions(request)
    sent = [record.model_dump(mode="json", exclude_unset=True) for record in body.records]
    binding = pow_binding(sent)
    declared = [NewRecord(record.kind, record.size) for record in body.records]
    whole = body.records[0]
    if whole.payload is not None:
        if len(body.records) != 1:
            raise Invalid("only a report without attachments is sent whole")
        if whole.commitment is None or whole.headers is None or body.lookup_hash is None:
            raise Invalid("a report sent whole comes with its commitment, headers and lookup_hash")
        submitted = await _submit_whole(
            request,
            submissions,
            declared[0],
            payload=_data(whole.payload),
            sealing=Sealing(
                "",
                bytes.fromhex(whole.commitment),
                {holder: _data(text) for holder, text in whole.headers.items()},
            ),
            lookup_hash=bytes.fromhex(body.lookup_hash),
            pow=body.pow,
            binding=binding,
        )
        return json_answer(submitted, status.HTTP_201_CREATED)
    extras = (r.commitment is not None or r.headers is not None for r in body.records)
    if any(extras) or body.lookup_hash is not None:
        raise Invalid("commitments, headers and lookup_hash come with complete, not here")
    created = await run_in_threadpool(
        submissions.create,
        declared,
        token=body.pow.token,
        counter=body.pow.counter,
        binding=binding,
    )
    staged = CreatedOut(
        id=created.id,
        records=[RecordOut(id=r.id, kind=r.kind, size=r.size) for r in created.records],
        chunk_bytes=_settings(request).max_chunk_bytes,
        expires=created.expires,
    )
    return json_answer(staged, status.HTTP_201_CREATED)


async def _submit_whole(
    request: Request,
    submissions: Submissions,
    record: NewRecord,
    *,
    payload: bytes,
    sealing: Sealing,
    lookup_hash: bytes,
    pow: PowIn,
    binding: bytes,
) -> SubmittedOut:
    """`Submissions.submit_whole` without a worker thread per request: the checks run on
    the event loop (they touch no database), the report waits for its batch on a future,
    and only the rare database work of a request (an hourly sweep, loading the log key,
    counting a refusal) goes to a worker thread."""
    if submissions.sweep_due():
        await run_in_threadpool(submissions.expire_staged)
    signer = await log_signer_of(request)
    try:
        report = submissions.check_whole(
            record,
            payload=payload,
            sealing=sealing,
            lookup_hash=lookup_hash,
            token=pow.token,
            counter=pow.counter,
            binding=binding,
        )
        logged = await submissions.committer.commit(report, signer)
    except PowRefused:
        await run_in_threadpool(submissions.count_pow_refusal)
        raise
    return SubmittedOut.of(whole_completed(report, logged))


async def read_chunk(request: Request, limit: int) -> bytearray:
    """The request body, at most `limit` bytes, read into one buffer of its declared size:
    the only copy of the chunk the server holds while it stores it."""
    declared = request.headers.get("content-length", "")
    chunk = bytearray(int(declared)) if declared.isdigit() and int(declared) <= limit else None
    size = 0
    async for piece in request.stream():
        if size + len(piece) > limit:
            raise TooLarge(f"a chunk is at most {limit} bytes")
        if chunk is None or size + len(piece) > len(chunk):
            # No (or a short) declared length: grow in place, amortised.
            chunk = bytearray() if chunk is None else chunk
            del chunk[size:]
            chunk += piece
        else:
            chunk[size : size + len(piece)] = piece
        size += len(piece)
    if chunk is None:
        return bytearray()
    del chunk[size:]
    return chunk


_OCTETS: Final = {"schema": {"type": "string", "format": "binary"}}


@router.put(
    "/{submission_id}/records/{record_id}/payload",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/octet-stream": _OCTETS}}
    },
)
async def put_chunk(
    submission_id: SubmissionId,
    record_id: RecordId,
    offset: Annotated[int, Query(ge=0, le=2**53 - 1)],
    request: Request,
    submissions: SubmissionsDep,
) -> ChunkOut:
    """Store the request body (`application/octet-stream`, at most `chunk_bytes`) at
    `offset` of the record's payload; 409 with `received` if the server holds another
    length, so the client resumes there."""
    data = await read_chunk(request, _settings(request).max_chunk_bytes)
    received = await run_in_threadpool(
        submissions.append_chunk, submission_id, record_id, offset=offset, data=data
    )
    return ChunkOut(received=received)


@router.get("/{submission_id}")
def submission_status(submission_id: SubmissionId, submissions: SubmissionsDep) -> StatusOut:
    """How much of each record the server holds, so a resuming client knows where to go on."""
    done, states = submissions.status(submission_id)
    return StatusOut(
        records=[
            RecordStateOut(id=r.id, kind=r.kind, size=r.size, received=r.received) for r in states
        ],
        state="complete" if done else "open",
    )


@router.post("/{submission_id}/complete")
def complete_submission(
    submission_id: SubmissionId,
    body: CompleteIn,
    submissions: SubmissionsDep,
    signer: LogSignerDep,
) -> CompletedOut:
    """Check the payloads are whole and the headers right, make the records visible to their
    holders and log them; the receipt proves the report's entry. Idempotent."""
    sealings = [Sealing(r.id, bytes.fromhex(r.commitment), dict(r.headers)) for r in body.records]
    completed = submissions.complete(
        submission_id, sealings, lookup_hash=bytes.fromhex(body.lookup_hash), signer=signer
    )
    return CompletedOut.of(completed)
