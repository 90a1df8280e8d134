"""`/v1/admin`: accounts and rosters, for admin accounts only."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Response, status

from api.deps import AccountsDep, CurrentAccount
from api.schemas import (
    IssuedCodeOut,
    MemberKeys,
    MemberOut,
    NewUserIn,
    RosterIn,
    RosterOut,
    RotationIn,
    RotationOut,
)

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post("/users", status_code=status.HTTP_201_CREATED)
def add_user(body: NewUserIn, admin: CurrentAccount, accounts: AccountsDep) -> IssuedCodeOut:
    issued = accounts.add_user(admin, username=body.username, role=body.role)
    return IssuedCodeOut(
        username=issued.account.username,
        role=issued.account.role,
        code_id=issued.code_id,
        server_half=issued.server_half,
        expires_on=issued.expires_on,
    )


@router.post("/users/{username}/disable", status_code=status.HTTP_204_NO_CONTENT)
def disable_user(username: str, admin: CurrentAccount, accounts: AccountsDep) -> Response:
    """Disable the account and end its sessions; the next roster leaves it out."""
    accounts.disable_user(admin, username=username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/members")
def members(admin: CurrentAccount, accounts: AccountsDep) -> list[MemberOut]:
    """Every account with the keys it enrolled and their MACs, for `roster publish`."""
    out = []
    for member in accounts.members(admin):
        keys = member["keys"]
        out.append(
            MemberOut(
                id=member["id"],
                username=member["username"],
                role=member["role"],
                disabled=member["disabled"],
                enrolled=member["enrolled"],
                keys=None
                if keys is None
                else MemberKeys(
                    code_id=keys["code_id"],
                    recipient=keys["recipient"],
                    verify_key=base64.b64encode(keys["verify_key"]).decode("ascii"),
                    mac=base64.b64encode(keys["mac"]).decode("ascii"),
                ),
            )
        )
    return out


@router.post("/roster", status_code=status.HTTP_201_CREATED)
def publish_roster(body: RosterIn, admin: CurrentAccount, accounts: AccountsDep) -> RosterOut:
    """Store a roster signed by the org key; the server checks the signatures first."""
    version = accounts.publish_roster(
        admin, staff=body.staff.encode("utf-8"), public=body.public.encode("utf-8")
    )
    return RosterOut(version=version)


@router.post("/org/rotations", status_code=status.HTTP_201_CREATED)
def rotate_org_key(body: RotationIn, admin: CurrentAccount, accounts: AccountsDep) -> RotationOut:
    """Register a new org key, announced in a statement signed by the current key and by
    the new one; rosters from now on must be signed by the new key."""
    row = accounts.rotate_org_key(admin, statement=body.statement.encode("utf-8"))
    return RotationOut(serial=row.serial, fingerprint=accounts.org().fingerprint)
