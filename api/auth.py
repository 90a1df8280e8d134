"""`/v1/auth`: log in with password and TOTP for a session token; log out."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import AccountsDep, TokenDep
from api.schemas import LoginIn, SessionOut

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login")
def login(body: LoginIn, accounts: AccountsDep) -> SessionOut:
    """A 401 never says whether the username, the password or the code was wrong, and
    takes as long for an unknown username; repeated failures get 429 with Retry-After."""
    token, expires = accounts.login(
        username=body.username, password=body.password, totp_code=body.totp_code
    )
    account = accounts.authenticate(token)
    return SessionOut(token=token, expires_at=expires, username=account.username, role=account.role)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(token: TokenDep, accounts: AccountsDep) -> Response:
    accounts.logout(token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
