"""The audit events accounts record, in the transaction of the change they describe.

Every account event goes through `record`, which appends it to the audit log
(`vault.audit`) in the caller's transaction: no change without its entry, no entry
without its change. Actors and targets are accounts' opaque ids; a failed login whose
username matches no account is recorded as ``"unknown"``, never as typed (DESIGN.md
section 4).
"""

from __future__ import annotations

from typing import Final

from sqlmodel import Session

from vault import audit
from vault.audit import Action, Event

UNKNOWN: Final = audit.UNKNOWN


def record(
    session: Session,
    action: str,
    *,
    actor: str,
    target: str | None = None,
    version: int | None = None,
) -> None:
    """Append `action` by `actor` to the log in `session`'s (write) transaction."""
    audit.append(session, Event(action=Action(action), actor=actor, target=target, version=version))


def refused(session: Session, *, actor: str, reason: str) -> None:
    """Append that account `actor` was refused, `reason` being a fixed slug."""
    audit.append(session, Event(action=Action.REFUSED, actor=actor, reason=reason))
