"""`POST /v1/enrol`: a new account sets its password and TOTP and uploads its public keys."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AccountsDep
from api.schemas import AccountOut, EnrolIn, EnrolLookupIn, EnrolLookupOut
from vault.accounts.service import Enrolment

router = APIRouter(tags=["enrol"])


@router.post("/enrol", status_code=status.HTTP_201_CREATED)
def enrol(body: EnrolIn, accounts: AccountsDep) -> AccountOut:
    """Authorised by the enrolment code's id and server half. The MAC is made with the
    secret half, which this server never sees; `roster publish` checks it."""
    account = accounts.enrol(
        Enrolment(
            code_id=body.code_id.upper(),
            server_half=body.server_half,
            username=body.username,
            password=body.password,
            totp_secret=body.totp_secret,
            totp_code=body.totp_code,
            recipient=body.recipient,
            verify_key=body.verify_key,
            mac=body.mac,
        )
    )
    return AccountOut(username=account.username, role=account.role, id=account.opaque_id)


@router.post("/enrol/lookup")
def enrolment_role(body: EnrolLookupIn, accounts: AccountsDep) -> EnrolLookupOut:
    """The role an unused enrolment code is for; uses nothing up."""
    role = accounts.enrolment_role(
        code_id=body.code_id.upper(), server_half=body.server_half, username=body.username
    )
    return EnrolLookupOut(username=body.username, role=role)
