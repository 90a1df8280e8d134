"""Login sessions: random 256-bit tokens, stored only as a hash, expiring and revocable.

A token is ``tvs1_`` + base64url(32 random bytes || expiry as 8-byte Unix seconds). The
database keeps SHA-256 of the whole token and the expiry day; the exact expiry rides in
the token, where the hash binds it, so the database holds no login time finer than a day.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlmodel import Session, col, select, update

from vault.models import LoginSession

PREFIX: Final = "tvs1_"
LIFETIME: Final = timedelta(hours=12)
_RANDOM: Final = 32


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def issue(session: Session, *, account_id: int) -> tuple[str, datetime]:
    """Add a new session for the account to `session`; return its token and expiry."""
    expires = datetime.now(UTC).replace(microsecond=0) + LIFETIME
    raw = secrets.token_bytes(_RANDOM) + int(expires.timestamp()).to_bytes(8, "big")
    token = PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    session.add(
        LoginSession(token_hash=token_hash(token), account_id=account_id, expires_on=expires.date())
    )
    return token, expires


def find(session: Session, token: str) -> LoginSession | None:
    """The live session `token` names, or None: unknown, malformed, expired or revoked."""
    expiry = _expiry(token)
    if expiry is None or expiry <= time.time():
        return None
    row = session.exec(
        select(LoginSession).where(LoginSession.token_hash == token_hash(token))
    ).first()
    if row is None or row.revoked:
        return None
    return row


def revoke_all(session: Session, *, account_id: int) -> None:
    session.execute(
        update(LoginSession).where(col(LoginSession.account_id) == account_id).values(revoked=True)
    )


def _expiry(token: str) -> int | None:
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    encoded = token.removeprefix(PREFIX)
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _RANDOM + 8:
        return None
    return int.from_bytes(raw[_RANDOM:], "big")
