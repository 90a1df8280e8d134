"""`/v1/cases`: a caseworker's cases, with metadata sealed on their device and the records
filed in each (docs/submissions.md, "Caseworker"). Intake and caseworker accounts only;
the rules live in `vault.records.cases`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from api.deps import CurrentAccount
from api.log import EngineDep
from api.records import B64_SCHEMA, ID_PATTERN, b64, base64_decoder
from vault.records import Cases
from vault.records.cases import MAX_CASE_BYTES

router = APIRouter(prefix="/cases", tags=["cases"])

CaseId = Annotated[str, Path(pattern=ID_PATTERN)]
SealedCase = Annotated[bytes, BeforeValidator(base64_decoder(MAX_CASE_BYTES)), B64_SCHEMA]


def get_cases(engine: EngineDep) -> Cases:
    return Cases(engine)


CasesDep = Annotated[Cases, Depends(get_cases)]


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sealed: SealedCase


class CaseRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class CaseCreated(BaseModel):
    id: str


class CaseRecordAdded(BaseModel):
    added: bool


class CaseOut(BaseModel):
    id: str
    sealed: str
    #: Only the records the caller holds now.
    records: list[str]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_case(body: CaseIn, account: CurrentAccount, cases: CasesDep) -> CaseCreated:
    """A new case of the caller's, with its sealed metadata."""
    return CaseCreated(id=cases.create(account, sealed=body.sealed))


@router.post("/{case_id}/records", status_code=status.HTTP_201_CREATED)
def add_record(
    case_id: CaseId,
    body: CaseRecordIn,
    account: CurrentAccount,
    cases: CasesDep,
    response: Response,
) -> CaseRecordAdded:
    """File a record the caller holds in one of their cases: 201, or 200 with added
    false if it was filed there already."""
    added = cases.add(account, case_id, record_id=body.record)
    if not added:
        response.status_code = status.HTTP_200_OK
    return CaseRecordAdded(added=added)


@router.get("")
def list_cases(account: CurrentAccount, cases: CasesDep) -> list[CaseOut]:
    """The caller's cases, each listing only the records they hold."""
    return [
        CaseOut(id=case.id, sealed=b64(case.sealed), records=case.records)
        for case in cases.owned_by(account)
    ]
