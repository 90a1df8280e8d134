"""`Records`: what intake and caseworker accounts do with the records sealed to them.

docs/submissions.md, "Caseworker". Every method that touches one record runs in
`vault.records.access.holding`: one short write transaction, under the log lock, that
refuses (and logs) a caller who does not hold the record, and commits the action's log
entry with the action itself (DESIGN.md section 4: no event without its entry, no entry
without its event). Failures are `vault.errors` subclasses whose messages are safe to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from crypto import messages
from crypto.errors import CryptoError
from crypto.note import Signer
from vault import audit
from vault.audit import Action, Event, LoggedEvent
from vault.audit.events import utc_today
from vault.db import session_scope
from vault.errors import Conflict, Invalid, NotFound
from vault.models import (
    RECOVERY_HOLDER,
    Account,
    EnrolledKey,
    Followup,
    Org,
    Record,
    RecordHeader,
    RecordKind,
    Reply,
)
from vault.records import access
from vault.records.deletion import RetentionSweep, delete_record
from vault.records.headers import check_header, check_sealed

#: Largest header a grant uploads: one hybrid stanza is about 1.6 KiB.
MAX_HEADER_BYTES: Final = 16 * 1024
#: Largest grant statement: a signed note of a few ids and a recipient.
MAX_STATEMENT_BYTES: Final = 8 * 1024
#: Largest sealed reply: a signed message of at most 20,000 characters, to a few holders.
MAX_SEALED_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class RecordInfo:
    """What a holder may know of a record without opening it."""

    id: str
    kind: RecordKind
    parent: str | None
    size: int
    day: date
    log_index: int
    holders: list[str]


@dataclass(frozen=True, slots=True)
class FetchedHeader:
    """A holder's header, the record's submission entry with its inclusion proof at
    `fetch.tree_size`, and the logged fetch itself with its proof and checkpoint."""

    header: bytes
    record: RecordInfo
    submitted_entry: bytes
    submitted_proof: list[bytes]
    fetch: LoggedEvent


@dataclass(frozen=True, slots=True)
class Thread:
    """A record's replies and follow-ups, each in sequence order."""

    replies: list[Reply]
    followups: list[Followup]


class Records:
    """The record operations over one engine; the API holds one per process."""

    def __init__(self, engine: Engine, *, retention: RetentionSweep | None = None) -> None:
        self._engine = engine
        self._retention = retention

    def inbox(self, account: Account) -> list[RecordInfo]:
        """Every live record `account` holds a header for, newest first. Not logged:
        it shows ids and sizes, not headers. Applies the retention period first, if due,
        so an expired record is never listed."""
        access.require_recipient(self._engine, account)
        if self._retention is not None:
            self._retention.run_if_due()
        with session_scope(self._engine, readonly=True) as session:
            records = session.exec(
                select(Record)
                .join(RecordHeader, col(RecordHeader.record_id) == col(Record.id))
                .where(RecordHeader.holder == account.opaque_id, access.live_records())
                .order_by(col(Record.log_index).desc())
            ).all()
            holders = _holders_of(session, [r.id for r in records])
        return [_info(r, holders.get(r.id, [])) for r in records]

    def fetch_header(self, account: Account, record_id: str, *, signer: Signer) -> FetchedHeader:
        """The caller's header of the record, read in the transaction that logs the fetch
        (`record.fetched`, part header) and proves it with `signer`'s checkpoint."""
        with access.holding(self._engine, account, record_id) as (session, record):
            header = session.exec(
                select(RecordHeader.header).where(
                    RecordHeader.record_id == record.id, RecordHeader.holder == account.opaque_id
                )
            ).one()
            info = _info(record, access.holders_of(session, record.id))
            event = _fetched(account, record, "header")
            fetch = audit.record_and_prove(session, event, signer)
            (submitted,) = audit.entries(session, start=info.log_index, end=info.log_index + 1)
            proof = audit.inclusion_proof(session, index=info.log_index, tree_size=fetch.tree_size)
        return FetchedHeader(bytes(header), info, submitted, proof, fetch)

    def grant(
        self, account: Account, record_id: str, *, target: str, header: bytes, statement: bytes
    ) -> bool:
        """Store `header` for `target`, an active intake or caseworker account with an
        enrolled recipient, with the caller's signed grant `statement`; log it.

        Returns False, logging nothing, if the target already holds the record (granting
        twice is harmless, racing grants included). Raises `Invalid` for a header not of
        one stanza of the org's type, or a statement that is not the caller's signed
        grant of this record to this target's recipient.
        """
        if len(header) > MAX_HEADER_BYTES or len(statement) > MAX_STATEMENT_BYTES:
            raise Invalid("the header or the statement is too long")
        with access.holding(self._engine, account, record_id) as (session, record):
            check_header(header, recipient_type=_recipient_type(session))
            recipient = _grantee_recipient(session, target)
            _check_statement(
                session, account, statement, record=record.id, target=target, recipient=recipient
            )
            if _holds(session, target, record.id):
                return False
            try:
                with session.begin_nested():
                    session.add(
                        RecordHeader(
                            record_id=record.id, holder=target, header=header, statement=statement
                        )
                    )
            except IntegrityError:  # a concurrent grant stored it first
                return False
            _log(session, Action.RECORD_GRANTED, account, record, target=target)
        return True

    def revoke(self, account: Account, record_id: str, *, target: str) -> None:
        """Delete `target`'s header of the record and log it. Raises `NotFound` if the
        target holds none, `Invalid` for the recovery recipient's (not the caller's to drop)."""
        if target == RECOVERY_HOLDER:
            raise Invalid("the recovery recipient's header is not revoked through the API")
        with access.holding(self._engine, account, record_id) as (session, record):
            row = session.exec(
                select(RecordHeader).where(
                    RecordHeader.record_id == record.id, RecordHeader.holder == target
                )
            ).first()
            if row is None:
                raise NotFound("that account holds no header of this record")
            session.delete(row)
            _log(session, Action.RECORD_REVOKED, account, record, target=target)

    def thread(self, account: Account, record_id: str) -> Thread:
        """The record's replies and follow-ups, logged as a fetch of its thread."""
        with access.holding(self._engine, account, record_id) as (session, record):
            replies = session.exec(
                select(Reply).where(Reply.record_id == record.id).order_by(col(Reply.sequence))
            ).all()
            followups = session.exec(
                select(Followup)
                .where(Followup.record_id == record.id)
                .order_by(col(Followup.sequence))
            ).all()
            audit.append(session, _fetched(account, record, "thread"))
        return Thread(list(replies), list(followups))

    def reply(self, account: Account, record_id: str, *, sealed: bytes) -> int:
        """Store a sealed reply to the source of a report as the next in sequence, log it,
        and return its sequence number. `sealed` must be an age file to the org's type."""
        if len(sealed) > MAX_SEALED_BYTES:
            raise Invalid(f"a sealed reply is at most {MAX_SEALED_BYTES} bytes")
        with access.holding(self._engine, account, record_id) as (session, record):
            if record.kind is not RecordKind.REPORT:
                raise Invalid("reply on the report record; an attachment has no source link")
            check_sealed(sealed, recipient_type=_recipient_type(session))
            # The log lock `holding` took serializes replies, so max + 1 is free; the
            # unique constraint is the backstop.
            last = session.exec(
                select(func.max(Reply.sequence)).where(Reply.record_id == record.id)
            ).one()
            sequence = (last or 0) + 1
            try:
                with session.begin_nested():
                    session.add(
                        Reply(
                            record_id=record.id,
                            sequence=sequence,
                            author=account.opaque_id,
                            sealed=sealed,
                            created_on=utc_today(),
                        )
                    )
            except IntegrityError:
                raise Conflict("another reply took this sequence number; send again") from None
            _log(session, Action.RECORD_REPLIED, account, record)
        return sequence

    def export(self, account: Account, record_id: str) -> int:
        """Log that the caller exports the record (before their client writes it); returns
        the entry's index."""
        with access.holding(self._engine, account, record_id) as (session, record):
            index = _log(session, Action.RECORD_EXPORTED, account, record)
        return index

    def delete(self, account: Account, record_id: str) -> None:
        """Delete the record's headers, payload, replies and follow-ups, and log it. A
        report takes with it the attachments of it the caller holds, each logged: a
        report's attachments are part of the same testimony, so deleting the report must
        not leave them behind. An attachment the caller does not hold stays for its
        holders to delete (no one deletes what they could not read)."""
        with access.holding(self._engine, account, record_id) as (session, record):
            delete_record(session, record, actor=account.opaque_id)
            if record.kind is RecordKind.REPORT:
                for attachment in access.held_attachments(session, account.opaque_id, record.id):
                    delete_record(session, attachment, actor=account.opaque_id)


def _info(record: Record, holders: list[str]) -> RecordInfo:
    assert record.log_index is not None  # every live record was completed and logged
    return RecordInfo(
        id=record.id,
        kind=record.kind,
        parent=record.parent_id,
        size=record.size,
        day=record.created_on,
        log_index=record.log_index,
        holders=holders,
    )


def _holders_of(session: Session, record_ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if not record_ids:
        return found
    rows = session.exec(
        select(RecordHeader.record_id, RecordHeader.holder)
        .where(col(RecordHeader.record_id).in_(record_ids))
        .order_by(col(RecordHeader.holder))
    ).all()
    for record_id, holder in rows:
        found.setdefault(record_id, []).append(holder)
    return found


def _fetched(account: Account, record: Record, part: Literal["header", "thread"]) -> Event:
    return Event(action=Action.RECORD_FETCHED, actor=account.opaque_id, record=record.id, part=part)


def _log(
    session: Session, action: Action, account: Account, record: Record, target: str | None = None
) -> int:
    event = Event(action=action, actor=account.opaque_id, record=record.id, target=target)
    return audit.append(session, event)


def _holds(session: Session, holder: str, record_id: str) -> bool:
    found = session.exec(
        select(RecordHeader.id).where(
            RecordHeader.record_id == record_id, RecordHeader.holder == holder
        )
    ).first()
    return found is not None


def _recipient_type(session: Session) -> str:
    org = session.get(Org, 1)
    assert org is not None  # accounts, and so records, exist only once the org does
    recipient_type = org.policy["recipient_type"]
    assert isinstance(recipient_type, str)
    return recipient_type


def _latest_keys(session: Session, account: Account) -> EnrolledKey | None:
    return session.exec(
        select(EnrolledKey)
        .where(EnrolledKey.account_id == account.id)
        .order_by(col(EnrolledKey.id).desc())
    ).first()


def _grantee_recipient(session: Session, target: str) -> str:
    """The enrolled recipient of `target`, which must be an active account of a role that
    receives records. Raises `Invalid` otherwise (the same text for each reason)."""
    account = session.exec(select(Account).where(Account.opaque_id == target)).first()
    keys = None if account is None else _latest_keys(session, account)
    if (
        account is None
        or account.disabled
        or account.role not in access.RECIPIENT_ROLES
        or keys is None
        or not keys.recipient
    ):
        raise Invalid("grant only to an active, enrolled intake or caseworker account")
    return keys.recipient


def _check_statement(
    session: Session,
    author: Account,
    statement: bytes,
    *,
    record: str,
    target: str,
    recipient: str,
) -> None:
    """Refuse a statement that is not `author`'s signed grant of `record` to `target`'s
    `recipient`: the statement is what lets an auditor tie the header to its granter."""
    keys = _latest_keys(session, author)
    if keys is None:
        raise Invalid("you have no enrolled signing key")
    try:
        grant = messages.open_grant(statement, verify_keys={author.opaque_id: keys.verify_key})
    except CryptoError:
        raise Invalid("the grant statement is not signed by your enrolled key") from None
    if (grant.record, grant.target, grant.recipient) != (record, target, recipient):
        raise Invalid("the grant statement names another record, target or recipient")
