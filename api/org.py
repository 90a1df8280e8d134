"""`/v1/org`: register the org (with the bootstrap code) and read its public face.

`GET /v1/org` gives anyone what a source needs: the org key and fingerprint, the policy,
the log key and the signed public roster (no staff names). A logged-in staff member also
gets the signed staff roster. Clients verify both against the org key they pinned, or one
that key handed over to: `GET /v1/org/rotations` serves the statements.
"""

from __future__ import annotations

import base64

from fastapi import APIRouter, status

from api.deps import AccountsDep, OptionalAccount
from api.schemas import OrgOut, OrgRegistration, RotationsOut
from vault.accounts.service import NewAdmin

router = APIRouter(prefix="/org", tags=["org"])


@router.post("", status_code=status.HTTP_201_CREATED)
def register_org(body: OrgRegistration, accounts: AccountsDep) -> OrgOut:
    """Register the org key and the first admin. Uses the one-time bootstrap code up."""
    accounts.register_org(
        bootstrap_code=body.bootstrap_code,
        name=body.name,
        public_key=body.public_key,
        recipient_type=body.recipient_type,
        recovery_recipient=body.recovery_recipient,
        admin=NewAdmin(
            username=body.admin.username,
            password=body.admin.password,
            totp_secret=body.admin.totp_secret,
            totp_code=body.admin.totp_code,
        ),
    )
    return read_org(accounts, None)


@router.get("")
def read_org(accounts: AccountsDep, account: OptionalAccount) -> OrgOut:
    """The org's key, policy, log key and public roster; the staff roster for staff."""
    org = accounts.org()
    latest = accounts.latest_roster()
    return OrgOut(
        name=org.name,
        fingerprint=org.fingerprint,
        public_key=base64.b64encode(org.public_key).decode("ascii"),
        policy={str(k): str(v) for k, v in org.policy.items()},
        log_key=accounts.log_vkey(),
        roster=None if latest is None else latest.signed_public_roster.decode("utf-8"),
        staff_roster=None
        if latest is None or account is None
        else latest.signed_roster.decode("utf-8"),
    )


@router.get("/rotations")
def rotations(accounts: AccountsDep) -> RotationsOut:
    """Every org key rotation statement, oldest first; public, as the org key is.

    A client pinned to an earlier key follows them (each signed by the key before it)
    to the current one; it trusts nothing here that its pinned key did not sign.
    """
    return RotationsOut(statements=[r.statement.decode("utf-8") for r in accounts.rotations()])
