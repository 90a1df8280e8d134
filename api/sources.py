"""`/v1/sources`: a source comes back with its lookup secret (docs/submissions.md).

The secret travels in a POST body, never in a URL that a proxy might log; the server
keeps only its hash. A secret that matches nothing is a 404, counted as an anonymous
refusal, not logged one by one.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from api.submissions import ID_PATTERN, Body, Hex32, SubmissionsDep, b64, b64_field, rate_limited
from vault.models import RecordKind
from vault.submissions.service import MAX_FOLLOWUP_BYTES

router = APIRouter(prefix="/sources", tags=["sources"])

#: A lookup secret is a 32-byte key (`crypto.codename`); allow some room, refuse essays.
MAX_SECRET_BYTES: Final = 64
LookupSecret = b64_field(MAX_SECRET_BYTES)
Sealed = b64_field(MAX_FOLLOWUP_BYTES)


class LookupIn(Body):
    lookup_secret: LookupSecret  # type: ignore[valid-type]


class SourceRecordOut(BaseModel):
    id: str
    kind: RecordKind
    log_index: int
    entry: str = Field(description="The record's record.submitted entry, base64.")


class ReplyOut(BaseModel):
    record: str
    sequence: int
    sealed: str


class FollowupRef(BaseModel):
    record: str
    sequence: int


class LookupOut(BaseModel):
    records: list[SourceRecordOut]
    replies: list[ReplyOut]
    followups: list[FollowupRef]


class FollowupIn(Body):
    lookup_secret: LookupSecret  # type: ignore[valid-type]
    record: Annotated[str, Field(pattern=ID_PATTERN)]
    sequence: int = Field(ge=1, le=2**53 - 1)
    sealed: Sealed  # type: ignore[valid-type]
    mac: Hex32


class FollowupOut(BaseModel):
    sequence: int


@router.post("/lookup", dependencies=[Depends(rate_limited("lookup"))])
def lookup(body: LookupIn, submissions: SubmissionsDep) -> LookupOut:
    """The source's records with their log entries, the sealed replies, and the numbers
    of the follow-ups already sent."""
    view = submissions.lookup(body.lookup_secret)
    return LookupOut(
        records=[
            SourceRecordOut(id=r.id, kind=r.kind, log_index=r.log_index, entry=b64(r.entry))
            for r in view.records
        ],
        replies=[
            ReplyOut(record=record, sequence=sequence, sealed=b64(sealed))
            for record, sequence, sealed in view.replies
        ],
        followups=[FollowupRef(record=record, sequence=n) for record, n in view.followups],
    )


@router.post(
    "/followups",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(rate_limited("followups"))],
)
def add_followup(body: FollowupIn, submissions: SubmissionsDep) -> FollowupOut:
    """Append a sealed follow-up; `sequence` must be one more than the last (409)."""
    submissions.add_followup(
        body.lookup_secret,
        record_id=body.record,
        sequence=body.sequence,
        sealed=body.sealed,
        mac=bytes.fromhex(body.mac),
    )
    return FollowupOut(sequence=body.sequence)
