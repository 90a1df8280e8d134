"""Dependencies the account routes share: the `Accounts` service and the caller's account.

`accounts_lifespan` builds the service when the app starts (not at import, not in
`create_app`), so creating an app connects to nothing. It uses the engine given to
`create_app`, else builds one (`app.state.engine`, which `api.log` reads too) and disposes
of it at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vault.accounts import sealkey
from vault.accounts.errors import Unauthenticated
from vault.accounts.refusals import NO_SESSION
from vault.accounts.service import Accounts
from vault.db import create_engine
from vault.models import Account
from vault.settings import Settings
from vault.submissions.service import Submissions

logger = logging.getLogger(__name__)


@asynccontextmanager
async def accounts_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    assert isinstance(settings, Settings)
    # An engine handed to `create_app` belongs to its caller; one built here, to the app.
    given = getattr(app.state, "engine", None)
    engine = create_engine(settings) if given is None else given
    app.state.engine = engine
    app.state.accounts = Accounts(
        engine=engine,
        kdf=settings.kdf,
        seal_key=sealkey.load_or_create(settings.data_dir),
        data_dir=settings.data_dir,
    )
    try:
        yield
    finally:
        # Reports queued for a batch are written (and answered) before the engine goes.
        submissions = getattr(app.state, "submissions", None)
        if isinstance(submissions, Submissions):
            submissions.committer.close()
        # Anonymous refusals of the last, unfinished interval are logged, not lost; a
        # database already gone must not turn a graceful shutdown into a crash.
        try:
            app.state.accounts.refusals.flush()
        except Exception:
            logger.exception("could not log the last interval's anonymous refusals")
        if given is None:
            engine.dispose()


def get_accounts(request: Request) -> Accounts:
    accounts = request.app.state.accounts
    assert isinstance(accounts, Accounts)
    return accounts


AccountsDep = Annotated[Accounts, Depends(get_accounts)]

_bearer = HTTPBearer(auto_error=False, description="A session token from POST /v1/auth/login.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def session_token(accounts: AccountsDep, credentials: BearerDep) -> str:
    if credentials is None:
        accounts.refusals.count(NO_SESSION)
        raise Unauthenticated("log in first (Authorization: Bearer <token>)")
    return credentials.credentials


def current_account(accounts: AccountsDep, credentials: BearerDep) -> Account:
    return accounts.authenticate(session_token(accounts, credentials))


def optional_account(accounts: AccountsDep, credentials: BearerDep) -> Account | None:
    """The caller's account if they sent a token (which must then be valid), else None."""
    return None if credentials is None else accounts.authenticate(credentials.credentials)


TokenDep = Annotated[str, Depends(session_token)]
CurrentAccount = Annotated[Account, Depends(current_account)]
OptionalAccount = Annotated[Account | None, Depends(optional_account)]
