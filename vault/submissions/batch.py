"""Group commit of reports sent whole: many submissions, one write transaction.

A durable commit costs an fsync, and SQLite takes one writer at a time, so one transaction
per submission caps a vault at the disk's commits per second (~170 on a small VM). Instead
the requests of one process queue their checked reports to one `Committer`, whose writer
thread takes every pending report (up to `MAX_BATCH`) while the next ones queue, and
writes them in ONE transaction: it spends their proof-of-work tokens,
inserts their submissions, records, payloads and headers with a few multi-row statements,
and logs one `record.submitted` each under ONE checkpoint signed at the new size
(`audit.record_and_prove_many`). Only after the commit does any of them get its answer;
if the transaction fails, every report in it gets the failure and none is acknowledged.
Each request waits on a future, so the API awaits it on its event loop and no request
holds a thread while its batch is written (one thread writes, however many wait).

A report whose own checks fail (a token spent before or earlier in the same batch, headers
for the wrong holders or of the wrong type, a lookup hash taken) is refused alone before
anything is written; the others go on. Another worker process racing on the same token or
lookup hash makes the batch's insert fail; the batch is then written again one report at
a time, so each gets its own answer. The log stays one tree: every batch takes the log
lock (`vault.db.lock_log`) before it checks anything.

The roster's holders are read once per batch, and opened again only when a new roster
version was published (one cheap query per batch compares the version).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from crypto.note import Signer
from vault import audit
from vault.audit import ANONYMOUS, Action, Event
from vault.audit.events import utc_today
from vault.db import Direct, lock_log, session_scope
from vault.errors import Conflict, Invalid, VaultError
from vault.models import (
    PayloadChunk,
    PowRedemption,
    Record,
    RecordHeader,
    RecordKind,
    RosterVersion,
    Submission,
    metadata,
)
from vault.records.headers import check_header
from vault.submissions.errors import PowRefused
from vault.submissions.pow import SPENT_BEFORE, Spent

#: Most reports one transaction writes: bounds the lock hold and the statements' size.
MAX_BATCH: Final = 64
LOOKUP_TAKEN: Final = "this lookup secret belongs to another report; make a new codename"

_SUBMISSION: Final = metadata.tables[Submission.__tablename__]
_RECORD: Final = metadata.tables[Record.__tablename__]
_CHUNK: Final = metadata.tables[PayloadChunk.__tablename__]
_HEADER: Final = metadata.tables[RecordHeader.__tablename__]
_POW: Final = metadata.tables[PowRedemption.__tablename__]
_ROSTER: Final = metadata.tables[RosterVersion.__tablename__]
_ROSTER_VERSION: Final = sa.select(sa.func.max(_ROSTER.c.version))


@dataclass(frozen=True, slots=True)
class WholeReport:
    """A report without attachments, sent whole, its form and proof of work checked."""

    submission_id: str
    record_id: str
    payload: bytes
    commitment: bytes
    headers: dict[str, bytes]
    lookup_hash: bytes
    spent: Spent
    expires_on: date


@dataclass(frozen=True, slots=True)
class Logged:
    """A committed report: its `record.submitted` entry proven in the batch's checkpoint."""

    report: WholeReport
    receipt: audit.LoggedEvent


Holders = tuple[str, frozenset[str]]
"""The org's recipient type and the holders every submission is sealed to now."""


@dataclass(eq=False, slots=True)
class _Pending:
    report: WholeReport
    signer: Signer
    answer: Future[Logged]
    #: Where an awaiting coroutine wants its outcome too: its event loop and its future.
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[Logged]] | None = None


@dataclass
class _RosterCache:
    version: int | None = None
    holders: Holders | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Committer:
    """Commits the whole reports of one process's requests in batches; see the module.

    One writer thread, started by the first report, takes every queued report (up to
    `max_batch`) and writes them as one batch while the next ones queue. `enqueue` hands
    back a future the writer answers once the batch is committed; `submit` waits for it,
    and `commit` awaits it on an event loop (the API's way: one wake-up per batch).
    `read_holders(session)` opens the newest published roster; it is called once per
    roster version. `close` lets the writer finish what is queued and stops it.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        read_holders: Callable[[Session], Holders],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._engine = engine
        self._read_holders = read_holders
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._writing = False
        self._closed = False
        self._writer: threading.Thread | None = None
        self._roster = _RosterCache()

    @property
    def queued(self) -> int:
        """How many reports wait for the next batch (not those being written)."""
        with self._cond:
            return len(self._queue)

    @property
    def writing(self) -> bool:
        """Whether a batch is being written now."""
        with self._cond:
            return self._writing

    def enqueue(self, report: WholeReport, signer: Signer) -> Future[Logged]:
        """Queue `report`; the future gets its `Logged` once its batch is committed
        (durable), or the exception that refused it or failed its batch.

        Cancelling the future before the writer takes the report drops the report;
        after that, the batch is written and the answer is dropped instead.
        Raises `RuntimeError` after `close`.
        """
        return self._enqueue(_Pending(report, signer, Future())).answer

    async def commit(self, report: WholeReport, signer: Signer) -> Logged:
        """As `submit`, for a coroutine: queue `report` and wait, without a thread, until
        its batch is committed (durable); raise why it was refused or its batch failed.

        The writer wakes each event loop once per batch, however many of the batch's
        reports it awaits. Cancelled before the writer takes the report, the report is
        dropped; after, it is written and the answer dropped.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Logged] = loop.create_future()
        pending = self._enqueue(_Pending(report, signer, Future(), (loop, waiter)))
        try:
            return await waiter
        finally:
            pending.answer.cancel()  # no-op once the writer has taken it

    def _enqueue(self, pending: _Pending) -> _Pending:
        """Queue `pending`, starting the writer on first use; `pending` back."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the committer is closed")
            self._queue.append(pending)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run, name="tvault-committer", daemon=True
                )
                self._writer.start()
            self._cond.notify()
        return pending

    def submit(self, report: WholeReport, signer: Signer) -> Logged:
        """Queue `report` and return once its batch is committed (durable), or raise why it
        was refused or why its batch failed."""
        return self.enqueue(report, signer).result()

    def close(self, timeout: float | None = None) -> None:
        """Refuse new reports, let the writer commit those queued, and wait for it."""
        with self._cond:
            self._closed = True
            writer = self._writer
            self._cond.notify_all()
        if writer is not None:
            writer.join(timeout)

    def _run(self) -> None:
        """The writer: one batch after another until closed and drained."""
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._take()
                self._writing = True
            try:
                if batch:
                    self._answer(batch, self._commit(batch))
            finally:
                with self._cond:
                    self._writing = False

    def _take(self) -> list[_Pending]:
        """The next batch: queued reports for the first one's signer, at most `max_batch`,
        without those whose caller gave up. Precondition: `_cond` held, queue not empty."""
        signer = self._queue[0].signer
        batch: list[_Pending] = []
        kept: deque[_Pending] = deque()
        while self._queue:
            pending = self._queue.popleft()
            if pending.signer is not signer or len(batch) == self._max_batch:
                kept.append(pending)
            elif pending.answer.set_running_or_notify_cancel():
                batch.append(pending)
        self._queue = kept
        return batch

    @staticmethod
    def _answer(batch: Sequence[_Pending], outcomes: Sequence[Logged | BaseException]) -> None:
        """Hand each waiting request its outcome: one wake-up per event loop waiting."""
        awaited: dict[asyncio.AbstractEventLoop, list[_Settle]] = {}
        for pending, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Logged):
                pending.answer.set_result(outcome)
            else:
                pending.answer.set_exception(outcome)
            if pending.waiter is not None:
                loop, waiter = pending.waiter
                awaited.setdefault(loop, []).append((waiter, outcome))
        for loop, settles in awaited.items():
            try:
                loop.call_soon_threadsafe(_settle, settles)
            except RuntimeError:  # the loop closed while its batch was written
                continue

    def _commit(self, batch: Sequence[_Pending]) -> list[Logged | BaseException]:
        try:
            return self._write([p.report for p in batch], batch[0].signer)
        except IntegrityError:
            if len(batch) == 1:
                return [Conflict("another submission took the same token or lookup secret")]
            # A worker in another process spent a token or a lookup hash of this batch
            # since the checks: write each report alone, so each gets its own answer.
            return [outcome for p in batch for outcome in self._commit([p])]
        except BaseException as exc:  # the batch is not committed: nobody is acknowledged
            return [exc] * len(batch)

    def _write(
        self, reports: Sequence[WholeReport], signer: Signer
    ) -> list[Logged | BaseException]:
        refusals: list[BaseException | None] = []
        with session_scope(self._engine) as session:
            lock_log(session)  # first: the checks below hold until the commit
            recipient_type, holders = self._holders(session)
            with Direct(session) as direct:
                spent = _existing(direct, _POW.c.nonce_hash, [r.spent.nonce_hash for r in reports])
                taken = _existing(direct, _RECORD.c.lookup_hash, [r.lookup_hash for r in reports])
            accepted: list[WholeReport] = []
            for report in reports:
                try:
                    _check(report, recipient_type, holders, spent=spent, taken=taken)
                except VaultError as refused:
                    refusals.append(refused)
                    continue
                # A second report with this token or lookup hash in the batch is refused.
                spent.add(report.spent.nonce_hash)
                taken.add(report.lookup_hash)
                accepted.append(report)
                refusals.append(None)
            logged = iter(_insert(session, accepted, tuple(sorted(holders)), signer))
        return [next(logged) if refusal is None else refusal for refusal in refusals]

    def _holders(self, session: Session) -> Holders:
        """The roster's holders, opened again only if a newer roster was published."""
        with Direct(session) as direct:
            version = direct.scalar(_ROSTER_VERSION)
        cache = self._roster
        with cache.lock:
            if cache.holders is not None and cache.version == version:
                return cache.holders
        holders = self._read_holders(session)
        with cache.lock:
            cache.version, cache.holders = version, holders
        return holders


_Settle = tuple["asyncio.Future[Logged]", "Logged | BaseException"]


def _settle(settles: Sequence[_Settle]) -> None:
    """On the waiting event loop: hand each coroutine still waiting its outcome."""
    for waiter, outcome in settles:
        if waiter.done():  # cancelled: its caller gave up
            continue
        if isinstance(outcome, Logged):
            waiter.set_result(outcome)
        else:
            waiter.set_exception(outcome)


def _existing(direct: Direct, column: sa.Column[bytes], values: list[bytes]) -> set[bytes]:
    """Which of `values` `column` holds already (one query)."""
    rows = direct.rows(_in_query(column, len(values)), {f"v{n}": v for n, v in enumerate(values)})
    return {bytes(value) for (value,) in rows}


@functools.lru_cache(maxsize=2 * MAX_BATCH)
def _in_query(column: sa.Column[bytes], count: int) -> sa.Select[bytes]:
    """SELECT `column` WHERE it is one of `count` values, made once per column and count
    (the direct path runs no expanding IN)."""
    return sa.select(column).where(column.in_([sa.bindparam(f"v{n}") for n in range(count)]))


def _check(
    report: WholeReport,
    recipient_type: str,
    holders: frozenset[str],
    *,
    spent: set[bytes],
    taken: set[bytes],
) -> None:
    """Refuse `report` alone, as completing it one at a time would (same order, same
    messages): a spent token, headers not for exactly the holders or of the wrong type, a
    lookup hash another report has."""
    if report.spent.nonce_hash in spent:
        raise PowRefused(SPENT_BEFORE)
    if set(report.headers) != holders:
        raise Invalid("the headers must be for exactly the roster's intake holders")
    for header in report.headers.values():
        check_header(header, recipient_type=recipient_type)
    if report.lookup_hash in taken:
        raise Conflict(LOOKUP_TAKEN)


def _insert(
    session: Session, reports: Sequence[WholeReport], holders: tuple[str, ...], signer: Signer
) -> list[Logged]:
    """Write `reports` (checked) in a few multi-row statements and log them under one
    checkpoint; return each with its receipt. Writes nothing for no reports."""
    if not reports:
        return []
    events = [
        Event(
            action=Action.RECORD_SUBMITTED,
            actor=ANONYMOUS,
            record=r.record_id,
            commitment=r.commitment.hex(),
            holders=holders,
        )
        for r in reports
    ]
    receipts = audit.record_and_prove_many(session, events, signer)
    today = utc_today()
    with Direct(session) as direct:
        direct.insert(
            _POW,
            [{"nonce_hash": r.spent.nonce_hash, "expires_on": r.spent.expires_on} for r in reports],
        )
        direct.insert(
            _SUBMISSION,
            [
                {
                    "id": r.submission_id,
                    "staged": False,
                    "expires_on": r.expires_on,
                    "created_on": today,
                }
                for r in reports
            ],
        )
        direct.insert(
            _RECORD,
            [
                {
                    "id": r.record_id,
                    "submission_id": r.submission_id,
                    "kind": RecordKind.REPORT,
                    "parent_id": None,
                    "size": len(r.payload),
                    "received": len(r.payload),
                    "commitment": r.commitment,
                    "lookup_hash": r.lookup_hash,
                    "log_index": receipt.index,
                    "completed": True,
                    "created_on": today,
                }
                for r, receipt in zip(reports, receipts, strict=True)
            ],
        )
        direct.insert(
            _CHUNK, [{"record_id": r.record_id, "offset": 0, "data": r.payload} for r in reports]
        )
        direct.insert(
            _HEADER,
            [
                {"record_id": r.record_id, "holder": holder, "header": header, "statement": None}
                for r in reports
                for holder, header in sorted(r.headers.items())
            ],
        )
    return [Logged(r, receipt) for r, receipt in zip(reports, receipts, strict=True)]
