"""`Submissions`: what an anonymous source does with the vault (docs/submissions.md).

A submission is created staged (after its proof of work), filled chunk by chunk at exact
offsets, and completed in one short transaction that checks every payload is whole and
every header is one stanza of the org's type for exactly the roster's holders, then makes
the records visible and logs one `record.submitted` per record. Nothing a source sends is
visible to anyone before that. Abandoned staged submissions expire (`expire_staged`).

Sources come back with their lookup secret: `lookup` returns their records, the log
entries that prove them, the sealed replies and the follow-up numbers; `add_followup`
appends a sealed follow-up.

Every method is one transaction. Failures are `vault.errors` subclasses and
`vault.submissions.errors`; messages are safe to show to an anonymous caller.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from crypto import roster
from crypto.codename import lookup_hash as hash_lookup_secret
from crypto.note import Signer
from crypto.roster import canonical_json
from vault import audit
from vault.accounts.codes import random_id
from vault.accounts.refusals import RefusalCounter
from vault.audit import ANONYMOUS, Action, Event, LoggedEvent
from vault.audit.events import utc_today
from vault.db import session_scope
from vault.errors import Conflict, Invalid, NotFound, VaultError
from vault.models import (
    RECOVERY_HOLDER,
    Followup,
    Org,
    OrgKeyRotation,
    PayloadChunk,
    PowRedemption,
    Record,
    RecordHeader,
    RecordKind,
    Reply,
    RosterVersion,
    Submission,
)
from vault.records.headers import check_header, check_sealed
from vault.settings import Settings
from vault.submissions.batch import LOOKUP_TAKEN, Committer, Holders, Logged, WholeReport
from vault.submissions.errors import OffsetMismatch, PowRefused, TooLarge
from vault.submissions.pow import ProofOfWork

DIGEST_BYTES: Final = 32
#: Largest sealed follow-up: a message of a few thousand characters, to a few holders.
MAX_FOLLOWUP_BYTES: Final = 256 * 1024
#: Anonymous refusal reasons (counted per interval, never logged one by one).
BAD_LOOKUP: Final = "bad-lookup-secret"
POW_REFUSED: Final = "pow-refused"
#: How often, at most, a busy server sweeps expired staged submissions.
SWEEP_SECONDS: Final = 3600.0
NO_SUCH_SUBMISSION: Final = "no such open submission (it may have expired)"


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A record as a source declares it when creating a submission."""

    kind: RecordKind
    size: int


@dataclass(frozen=True, slots=True)
class Sealing:
    """What `complete` takes for one record: its commitment and one header per holder."""

    id: str
    commitment: bytes
    headers: dict[str, bytes]


@dataclass(frozen=True, slots=True)
class RecordState:
    id: str
    kind: RecordKind
    size: int
    received: int


@dataclass(frozen=True, slots=True)
class Created:
    id: str
    records: list[RecordState]
    expires: date


@dataclass(frozen=True, slots=True)
class Completed:
    """The records' log indices, and the report's entry proven in a signed checkpoint."""

    id: str
    log_indices: list[tuple[str, int]]
    receipt: LoggedEvent


@dataclass(frozen=True, slots=True)
class SourceRecord:
    id: str
    kind: RecordKind
    log_index: int
    entry: bytes


@dataclass(frozen=True, slots=True)
class SourceView:
    """What a source sees with its lookup secret."""

    records: list[SourceRecord]
    replies: list[tuple[str, int, bytes]]
    followups: list[tuple[str, int]]


def new_id() -> str:
    """A fresh 26-character base32 id (130 random bits)."""
    return random_id()


def pow_binding(records: Sequence[object]) -> bytes:
    """What a token's work is bound to: SHA-256 of the records list, canonical JSON."""
    return hashlib.sha256(canonical_json(list(records))).digest()


def whole_completed(report: WholeReport, logged: Logged) -> Completed:
    """What completing `report`, sent whole, answers once its batch committed it."""
    return Completed(
        report.submission_id, [(report.record_id, logged.receipt.index)], logged.receipt
    )


class Submissions:
    """What the API holds for sources: one per process (the PoW key, the sweep clock)."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        pow: ProofOfWork,
        refusals: RefusalCounter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self.pow = pow
        self.refusals = refusals
        self._clock = clock
        self._sweep_lock = threading.Lock()
        self._last_sweep: float | None = None
        self.committer = Committer(engine, read_holders=_roster_holders)

    # --- creating and filling -------------------------------------------------------

    def create(
        self, records: Sequence[NewRecord], *, token: str, counter: int, binding: bytes
    ) -> Created:
        """Spend the proof of work and stage a submission of `records` (report first)."""
        self._check_declared(records)
        self.sweep_if_due()
        with self._counting(PowRefused, POW_REFUSED), session_scope(self._engine) as session:
            self.pow.redeem(session, token, binding=binding, counter=counter)
            return _stage(session, records, days=self._settings.staged_upload_days)

    def submit_whole(
        self,
        record: NewRecord,
        *,
        payload: bytes,
        sealing: Sealing,
        lookup_hash: bytes,
        token: str,
        counter: int,
        binding: bytes,
        signer: Signer,
    ) -> Completed:
        """Create, fill and complete a report without attachments, committed together with
        the other reports this process is submitting at the moment (`batch.Committer`):
        one transaction, one checkpoint, and the answer only once it is committed.

        `check_whole`, then `committer.submit`; the API does the same without holding a
        thread while the batch is written (`api.submissions`)."""
        self.sweep_if_due()
        with self._counting(PowRefused, POW_REFUSED):
            report = self.check_whole(
                record,
                payload=payload,
                sealing=sealing,
                lookup_hash=lookup_hash,
                token=token,
                counter=counter,
                binding=binding,
            )
            return whole_completed(report, self.committer.submit(report, signer))

    def check_whole(
        self,
        record: NewRecord,
        *,
        payload: bytes,
        sealing: Sealing,
        lookup_hash: bytes,
        token: str,
        counter: int,
        binding: bytes,
    ) -> WholeReport:
        """What `submit_whole` checks before the batch: the declared record, the payload's
        size, the sealing's form and the proof of work. Touches no database, so it may run
        on an event loop. Raises as `submit_whole`, but counts no refusal: a caller that
        gets `PowRefused` calls `count_pow_refusal`."""
        self._check_declared([record])
        if len(payload) != record.size:
            raise Invalid(f"the payload has {len(payload)} bytes, not the declared {record.size}")
        if len(payload) > self._settings.max_chunk_bytes:
            raise TooLarge(
                f"a payload sent whole is at most {self._settings.max_chunk_bytes} bytes"
            )
        _check_sealing_form([sealing], lookup_hash)
        spent = self.pow.check(token, binding=binding, counter=counter)
        return WholeReport(
            submission_id=new_id(),
            record_id=new_id(),
            payload=payload,
            commitment=sealing.commitment,
            headers=sealing.headers,
            lookup_hash=lookup_hash,
            spent=spent,
            expires_on=utc_today() + timedelta(days=self._settings.staged_upload_days),
        )

    def count_pow_refusal(self) -> None:
        """Count a refused proof of work (may append to the log once per interval)."""
        self.refusals.count(POW_REFUSED)

    def append_chunk(
        self, submission_id: str, record_id: str, *, offset: int, data: bytes | bytearray
    ) -> int:
        """Store `data` at `offset` of the record's payload; return the bytes now held."""
        if not data:
            raise Invalid("a chunk has at least one byte")
        if len(data) > self._settings.max_chunk_bytes:
            raise TooLarge(f"a chunk is at most {self._settings.max_chunk_bytes} bytes")
        with session_scope(self._engine) as session:
            return _append(session, submission_id, record_id, offset=offset, data=data)

    def status(self, submission_id: str) -> tuple[bool, list[RecordState]]:
        """Whether the submission is complete, and how much of each record is held."""
        with session_scope(self._engine, readonly=True) as session:
            submission = _open_or_done(session, submission_id)
            return not submission.staged, _states(session, submission_id)

    def complete(
        self,
        submission_id: str,
        sealings: Sequence[Sealing],
        *,
        lookup_hash: bytes,
        signer: Signer,
    ) -> Completed:
        """Make the staged records visible to their holders and log them; see the module.

        Completing again returns the same indices and a fresh receipt; different values
        the second time are a `Conflict`.
        """
        _check_sealing_form(sealings, lookup_hash)
        with session_scope(self._engine) as session:
            return _complete(session, submission_id, sealings, lookup_hash, signer)

    # --- coming back ------------------------------------------------------------------

    def lookup(self, lookup_secret: bytes) -> SourceView:
        """The source's records, replies and follow-up numbers; `NotFound` if none."""
        wanted = hash_lookup_secret(lookup_secret)
        with (
            self._counting(UnknownSource, BAD_LOOKUP),
            session_scope(self._engine, readonly=True) as session,
        ):
            report = _report_of(session, wanted)
            records = session.exec(
                select(Record)
                .where(Record.submission_id == report.submission_id, col(Record.completed))
                .where(col(Record.received) > 0)
                .order_by(col(Record.id))
            ).all()
            ids = [record.id for record in records]
            seen = [_source_record(session, record) for record in records]
            replies = session.exec(
                select(Reply)
                .where(col(Reply.record_id).in_(ids))
                .order_by(col(Reply.record_id), col(Reply.sequence))
            ).all()
            followups = session.exec(
                select(Followup.record_id, Followup.sequence)
                .where(col(Followup.record_id).in_(ids))
                .order_by(col(Followup.record_id), col(Followup.sequence))
            ).all()
        return SourceView(
            records=seen,
            replies=[(r.record_id, r.sequence, r.sealed) for r in replies],
            followups=[(record_id, sequence) for record_id, sequence in followups],
        )

    def add_followup(
        self, lookup_secret: bytes, *, record_id: str, sequence: int, sealed: bytes, mac: bytes
    ) -> None:
        """Append follow-up `sequence` (one more than the last) to one of the source's records."""
        if len(sealed) > MAX_FOLLOWUP_BYTES:
            raise TooLarge(f"a follow-up is at most {MAX_FOLLOWUP_BYTES} bytes sealed")
        if len(mac) != DIGEST_BYTES:
            raise Invalid("a follow-up MAC is 32 bytes")
        wanted = hash_lookup_secret(lookup_secret)
        with self._counting(UnknownSource, BAD_LOOKUP), session_scope(self._engine) as session:
            report = _report_of(session, wanted)
            record = session.get(Record, record_id)
            live = record is not None and record.completed and record.received > 0
            if record is None or not live or record.submission_id != report.submission_id:
                raise NotFound("no such record among this source's records")
            check_sealed(sealed, recipient_type=_roster_holders(session)[0])
            last = session.exec(
                select(sa.func.max(Followup.sequence)).where(Followup.record_id == record_id)
            ).one()
            expected = (last or 0) + 1
            if sequence != expected:
                raise Conflict(f"the next follow-up of this record is number {expected}")
            session.add(
                Followup(
                    record_id=record_id,
                    sequence=sequence,
                    sealed=sealed,
                    mac=mac,
                    created_on=utc_today(),
                )
            )
            try:
                session.flush()
            except IntegrityError:  # the same number a moment ago
                raise Conflict(f"follow-up {sequence} exists already") from None

    # --- housekeeping -------------------------------------------------------------------

    def expire_staged(self, *, today: date | None = None) -> int:
        """Delete staged submissions past their expiry, with their chunks, and spent PoW
        nonces past theirs. Returns how many submissions went."""
        return expire_staged(self._engine, today=today)

    def sweep_if_due(self) -> None:
        """Run `expire_staged` if it has not run in this process for `SWEEP_SECONDS`."""
        if self.sweep_due():
            self.expire_staged()

    def sweep_due(self) -> bool:
        """Whether a sweep is due; if so, the caller runs `expire_staged` now (the next
        one is due `SWEEP_SECONDS` from now)."""
        with self._sweep_lock:
            now = self._clock()
            if self._last_sweep is not None and now - self._last_sweep < SWEEP_SECONDS:
                return False
            self._last_sweep = now
            return True

    # --- internals ------------------------------------------------------------------------

    def _check_declared(self, records: Sequence[NewRecord]) -> None:
        settings = self._settings
        if not records or records[0].kind is not RecordKind.REPORT:
            raise Invalid("the first record of a submission is its report")
        if any(r.kind is not RecordKind.ATTACHMENT for r in records[1:]):
            raise Invalid("a submission has one report; the other records are attachments")
        if len(records) - 1 > settings.max_attachments:
            raise Invalid(f"a submission has at most {settings.max_attachments} attachments")
        for record in records:
            limit = (
                settings.max_report_bytes
                if record.kind is RecordKind.REPORT
                else settings.max_upload_bytes
            )
            if record.size < 1:
                raise Invalid("a record's payload has at least one byte")
            if record.size > limit:
                raise TooLarge(f"a {record.kind.value} payload is at most {limit} bytes")

    @contextmanager
    def _counting(self, kind: type[VaultError], reason: str) -> Iterator[None]:
        """Count a refusal of `kind` as `reason` once its transaction is over: counting may
        append to the log, which must not wait on the write lock the refused one held."""
        try:
            yield
        except kind:
            self.refusals.count(reason)
            raise


def _stage(session: Session, records: Sequence[NewRecord], *, days: int) -> Created:
    today = utc_today()
    submission = Submission(
        id=new_id(), staged=True, expires_on=today + timedelta(days=days), created_on=today
    )
    session.add(submission)
    session.flush()
    # Sorted random ids, so that ordering by id lists the report, then the attachments in
    # the order declared, with no column that says so.
    ids = sorted(new_id() for _ in records)
    rows = [
        Record(
            id=rid,
            submission_id=submission.id,
            kind=record.kind,
            size=record.size,
            created_on=today,
        )
        for rid, record in zip(ids, records, strict=True)
    ]
    session.add(rows[0])
    session.flush()  # the report first: the attachments refer to it
    for row in rows[1:]:
        row.parent_id = rows[0].id
    session.add_all(rows[1:])
    session.flush()
    states = [RecordState(r.id, r.kind, r.size, 0) for r in rows]
    return Created(submission.id, states, submission.expires_on)


def _open_or_done(session: Session, submission_id: str) -> Submission:
    submission = session.get(Submission, submission_id)
    if submission is None or (submission.staged and submission.expires_on < utc_today()):
        raise NotFound(NO_SUCH_SUBMISSION)
    return submission


def _states(session: Session, submission_id: str) -> list[RecordState]:
    # Ids sort in the order the records were declared (see `_stage`).
    rows = session.exec(
        select(Record).where(Record.submission_id == submission_id).order_by(col(Record.id))
    ).all()
    return [RecordState(r.id, r.kind, r.size, r.received) for r in rows]


def _append(
    session: Session, submission_id: str, record_id: str, *, offset: int, data: bytes | bytearray
) -> int:
    submission = _open_or_done(session, submission_id)
    if not submission.staged:
        raise Conflict("the submission is complete; its payloads cannot change")
    record = session.exec(
        select(Record)
        .where(Record.id == record_id, Record.submission_id == submission_id)
        .with_for_update()
    ).first()
    if record is None:
        raise NotFound("no such record in this submission")
    if offset != record.received:
        raise OffsetMismatch(record.received)
    if offset + len(data) > record.size:
        raise TooLarge(f"the record's payload is {record.size} bytes; this chunk goes beyond it")
    # Both drivers store a bytearray as it is: no second copy of a large chunk.
    session.add(PayloadChunk(record_id=record_id, offset=offset, data=cast(bytes, data)))
    record.received = offset + len(data)
    session.add(record)
    try:
        session.flush()
    except IntegrityError:  # a concurrent chunk at the same offset won
        raise Conflict("another upload of this record wrote this offset first") from None
    return record.received


def _check_sealing_form(sealings: Sequence[Sealing], lookup_hash: bytes) -> None:
    if len(lookup_hash) != DIGEST_BYTES:
        raise Invalid("a lookup hash is 32 bytes")
    if any(len(s.commitment) != DIGEST_BYTES for s in sealings):
        raise Invalid("a commitment is 32 bytes")


def _complete(
    session: Session,
    submission_id: str,
    sealings: Sequence[Sealing],
    lookup_hash: bytes,
    signer: Signer,
) -> Completed:
    submission = session.exec(
        select(Submission).where(Submission.id == submission_id).with_for_update()
    ).first()
    if submission is None or (submission.staged and submission.expires_on < utc_today()):
        raise NotFound(NO_SUCH_SUBMISSION)
    records = {
        r.id: r for r in session.exec(select(Record).where(Record.submission_id == submission_id))
    }
    given = {s.id: s for s in sealings}
    if len(given) != len(sealings) or set(given) != set(records):
        raise Invalid("completion names each record of the submission exactly once")
    if not submission.staged:
        return _completed_again(session, submission_id, records, given, lookup_hash, signer)
    recipient_type, holders = _roster_holders(session)
    for rid, record in records.items():
        if record.received != record.size:
            raise Conflict(f"record {rid} has {record.received} of its {record.size} bytes")
        headers = given[rid].headers
        if set(headers) != holders:
            raise Invalid("the headers must be for exactly the roster's intake holders")
        for header in headers.values():
            check_header(header, recipient_type=recipient_type)
    report = next(r for r in records.values() if r.kind is RecordKind.REPORT)
    attachments = sorted(
        (r for r in records.values() if r.kind is RecordKind.ATTACHMENT), key=lambda r: r.id
    )
    for record in records.values():
        sealing = given[record.id]
        record.commitment = sealing.commitment
        record.completed = True
        session.add_all(
            RecordHeader(record_id=record.id, holder=holder, header=header)
            for holder, header in sorted(sealing.headers.items())
        )
    report.lookup_hash = lookup_hash
    submission.staged = False
    session.add_all([submission, *records.values()])
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(LOOKUP_TAKEN) from None
    held = tuple(sorted(holders))
    indices = audit.append_many(session, [_submitted(r, held) for r in attachments])
    for record, index in zip(attachments, indices, strict=True):
        record.log_index = index
    receipt = audit.record_and_prove(session, _submitted(report, held), signer)
    report.log_index = receipt.index
    session.add_all([report, *attachments])
    session.flush()
    return Completed(
        submission_id, [(r.id, r.log_index or 0) for r in [report, *attachments]], receipt
    )


def _submitted(record: Record, holders: tuple[str, ...]) -> Event:
    assert record.commitment is not None
    return Event(
        action=Action.RECORD_SUBMITTED,
        actor=ANONYMOUS,
        record=record.id,
        commitment=record.commitment.hex(),
        holders=holders,
    )


def _completed_again(
    session: Session,
    submission_id: str,
    records: dict[str, Record],
    given: dict[str, Sealing],
    lookup_hash: bytes,
    signer: Signer,
) -> Completed:
    report = next(r for r in records.values() if r.kind is RecordKind.REPORT)
    if report.lookup_hash != lookup_hash or any(
        r.commitment != given[rid].commitment for rid, r in records.items()
    ):
        raise Conflict("the submission was completed with other values")
    assert report.log_index is not None
    note = audit.sign_checkpoint(session, signer)
    size = audit.tree_size(session)
    receipt = LoggedEvent(
        index=report.log_index,
        entry=audit.entries(session, start=report.log_index, end=report.log_index + 1)[0],
        tree_size=size,
        proof=audit.inclusion_proof(session, index=report.log_index, tree_size=size),
        checkpoint=note,
    )
    attachments = sorted(
        (r for r in records.values() if r.kind is RecordKind.ATTACHMENT), key=lambda r: r.id
    )
    ordered = [report, *attachments]
    return Completed(submission_id, [(r.id, r.log_index or 0) for r in ordered], receipt)


def _roster_holders(session: Session) -> Holders:
    """The org's recipient type and the holders every submission is sealed to now."""
    org = session.get(Org, 1)
    latest = session.exec(select(RosterVersion).order_by(col(RosterVersion.version).desc())).first()
    if org is None or latest is None:
        raise Conflict("this vault publishes no roster yet; it cannot take submissions")
    # The roster was checked when published; it may be signed by an org key since rotated.
    keys = [org.public_key, *session.exec(select(OrgKeyRotation.old_public_key)).all()]
    opened = None
    for key in keys:
        try:
            opened = roster.open_roster(
                latest.signed_public_roster, org_public_key=key, kind="public"
            )
            break
        except roster.RosterError:
            continue
    if opened is None:
        raise Conflict("the published roster does not verify; ask the org to publish again")
    holders = {str(member.get("id")) for member in opened.members}
    if not holders:
        raise Conflict("the roster names no intake caseworker; nobody could open a submission")
    if opened.policy.get("recovery_recipient"):
        holders.add(RECOVERY_HOLDER)
    return str(opened.policy["recipient_type"]), frozenset(holders)


class UnknownSource(NotFound):
    """No completed report has this lookup secret (counted as an anonymous refusal)."""


def _report_of(session: Session, wanted: bytes) -> Record:
    report = session.exec(
        select(Record).where(Record.lookup_hash == wanted, col(Record.completed))
    ).first()
    if report is None:
        raise UnknownSource("nothing matches this lookup secret")
    return report


def _source_record(session: Session, record: Record) -> SourceRecord:
    assert record.log_index is not None
    entry = audit.entries(session, start=record.log_index, end=record.log_index + 1)
    return SourceRecord(record.id, record.kind, record.log_index, entry[0] if entry else b"")


def expire_staged(engine: Engine, *, today: date | None = None) -> int:
    """Delete staged submissions whose expiry day has passed, their records and chunks,
    and redeemed PoW nonces past their expiry day. Returns how many submissions went.

    Callable at start-up and from tests; `Submissions.sweep_if_due` runs it while serving.
    """
    day = utc_today() if today is None else today
    with session_scope(engine) as session:
        expired = select(Submission.id).where(col(Submission.staged), Submission.expires_on < day)
        ids = list(session.exec(expired).all())
        if ids:
            records = select(Record.id).where(col(Record.submission_id).in_(ids))
            session.execute(sa.delete(PayloadChunk).where(col(PayloadChunk.record_id).in_(records)))
            session.execute(
                sa.delete(Record).where(
                    col(Record.submission_id).in_(ids), col(Record.parent_id).is_not(None)
                )
            )
            session.execute(sa.delete(Record).where(col(Record.submission_id).in_(ids)))
            session.execute(sa.delete(Submission).where(col(Submission.id).in_(ids)))
        session.execute(sa.delete(PowRedemption).where(col(PowRedemption.expires_on) < day))
    return len(ids)
