"""Group commit of reports sent whole (vault.submissions.batch), on SQLite and PostgreSQL.

A gate holds the log lock in another transaction, so the first report's batch waits for it
while the others queue; once they all wait, the gate opens and they are written as one
batch. So every test here knows which reports shared a transaction, without timing.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from crypto import age
from crypto.codename import lookup_hash
from vault import audit
from vault.accounts.codes import random_base32, today
from vault.accounts.refusals import RefusalCounter
from vault.audit import Action, decode_event, verify_log
from vault.db import lock_log, session_scope
from vault.errors import Conflict, Invalid
from vault.models import (
    PayloadChunk,
    PowRedemption,
    Record,
    RecordHeader,
    RecordKind,
    RosterVersion,
    Submission,
)
from vault.settings import Settings
from vault.submissions import batch
from vault.submissions.errors import PowRefused
from vault.submissions.pow import ProofOfWork
from vault.submissions.service import (
    Completed,
    NewRecord,
    Sealing,
    Submissions,
    pow_binding,
)

from .support import (
    OrgSetup,
    SealedRecord,
    prepare_org,
    seal_record,
    signed_public_roster,
    solve,
)
from .test_service import _check_receipt


@pytest.fixture
def org(db_settings: Settings, engine: Engine) -> OrgSetup:
    return prepare_org(db_settings, engine)


@pytest.fixture
def service(db_settings: Settings, engine: Engine, org: OrgSetup) -> Iterator[Submissions]:
    submissions = Submissions(
        engine=engine,
        settings=db_settings,
        pow=ProofOfWork(os.urandom(32), bits=db_settings.kdf.pow_bits),
        refusals=RefusalCounter(engine),
    )
    yield submissions
    submissions.committer.close()


class Source:
    """One source's whole report: sealed, its token solved, ready to send (again)."""

    def __init__(self, service: Submissions, org: OrgSetup, *, token: str | None = None) -> None:
        self.sealed: SealedRecord = seal_record(os.urandom(4000), org.recipients)
        self.headers = dict(self.sealed.headers)
        self.secret = os.urandom(32)
        self.binding = pow_binding([{"kind": "report", "size": len(self.sealed.payload)}])
        self.token = service.pow.issue() if token is None else token
        self.counter = solve(self.token, self.binding)

    def send(self, service: Submissions, org: OrgSetup) -> Completed:
        return service.submit_whole(self._record(), signer=org.log_signer, **self._sent())

    def checked(self, service: Submissions) -> batch.WholeReport:
        """The report checked as `submit_whole` checks it, ready for the committer."""
        return service.check_whole(self._record(), **self._sent())

    def _record(self) -> NewRecord:
        return NewRecord(RecordKind.REPORT, len(self.sealed.payload))

    def _sent(self) -> dict[str, Any]:
        return {
            "payload": self.sealed.payload,
            "sealing": Sealing("", self.sealed.commitment, self.headers),
            "lookup_hash": lookup_hash(self.secret),
            "token": self.token,
            "counter": self.counter,
            "binding": self.binding,
        }


@contextmanager
def gate(engine: Engine) -> Iterator[None]:
    """Hold the log lock (and SQLite's write lock) until the block ends."""
    with session_scope(engine) as session:
        lock_log(session)
        session.execute(select(func.count()).select_from(Submission))
        yield


def one_batch(
    service: Submissions, engine: Engine, sends: list[Callable[[], Any]]
) -> list[Future[Any]]:
    """Run `sends` so that the first is written alone and all the others in one batch."""
    service.sweep_if_due()  # now, so that no send sweeps (and waits on the gate) first
    pool = ThreadPoolExecutor(len(sends))
    with gate(engine):
        first = pool.submit(sends[0])
        _wait_for(lambda: service.committer.writing and service.committer.queued == 0)
        rest = [pool.submit(send) for send in sends[1:]]
        _wait_for(lambda: service.committer.queued == len(rest))
    pool.shutdown(wait=True)
    return [first, *rest]


def _senders(
    service: Submissions, org: OrgSetup, sources: list[Source]
) -> list[Callable[[], Completed]]:
    return [functools.partial(source.send, service, org) for source in sources]


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the reports never queued"
        time.sleep(0.01)


def _outcome(future: Future[Completed]) -> Completed | type[BaseException]:
    error = future.exception()
    return type(error) if error is not None else future.result()


def test_a_batch_gives_each_report_its_own_receipt_under_one_checkpoint(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    sources = [Source(service, org) for _ in range(6)]
    futures = one_batch(service, engine, _senders(service, org, sources))
    done: list[Completed] = [f.result() for f in futures]
    for source, completed in zip(sources, done, strict=True):
        _check_receipt(completed.receipt, org)
        entry = decode_event(completed.receipt.entry)
        rid, index = completed.log_indices[0]
        assert (entry.action, entry.record, index) == (
            Action.RECORD_SUBMITTED,
            rid,
            completed.receipt.index,
        )
        assert entry.commitment == source.sealed.commitment.hex()
        assert [r.id for r in service.lookup(source.secret).records] == [rid]
        assert service.status(completed.id)[0] is True
    # The first alone, the five others under one checkpoint at the size after the last.
    assert done[0].receipt.tree_size == 1
    assert {c.receipt.checkpoint for c in done[1:]} == {done[1].receipt.checkpoint}
    assert {c.receipt.tree_size for c in done[1:]} == {6}
    assert sorted(c.receipt.index for c in done) == list(range(6))
    with session_scope(engine, readonly=True) as session:
        entries = audit.entries(session, start=0, end=6)
        chunks = session.exec(select(PayloadChunk)).all()
        headers = session.exec(select(func.count()).select_from(RecordHeader)).one()
        assert session.exec(select(func.count()).select_from(PowRedemption)).one() == 6
    verify_log(
        entries,
        done[-1].receipt.checkpoint,
        origin=org.log_signer.name,
        log=org.log_signer.verifier,
    )
    payloads = {bytes(chunk.data) for chunk in chunks}
    assert payloads == {s.sealed.payload for s in sources}
    assert headers == 6 * len(org.holders)


def test_a_bad_report_in_a_batch_fails_alone(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    spent = Source(service, org)
    spent.send(service, org)
    replay = Source(service, org, token=spent.token)
    replay.binding, replay.counter = spent.binding, spent.counter
    replay.sealed = spent.sealed
    replay.headers = dict(spent.headers)
    wrong_holders = Source(service, org)
    wrong_holders.headers.popitem()
    wrong_type = Source(service, org)
    holder = next(iter(wrong_type.headers))
    wrong_type.headers[holder] = seal_record(b"x", {holder: _x25519()}).headers[holder]
    taken = Source(service, org)
    taken.secret = spent.secret
    good = [Source(service, org) for _ in range(3)]
    sends = [good[0], replay, good[1], wrong_holders, wrong_type, taken, good[2]]
    futures = one_batch(service, engine, _senders(service, org, sends))
    outcomes = [_outcome(f) for f in futures]
    assert outcomes[1:] == [
        PowRefused,
        outcomes[2],
        Invalid,
        Invalid,
        Conflict,
        outcomes[6],
    ]
    accepted = [outcomes[0], outcomes[2], outcomes[6]]
    for completed in accepted:
        assert isinstance(completed, Completed)
        _check_receipt(completed.receipt, org)
    assert accepted[1].receipt.checkpoint == accepted[2].receipt.checkpoint  # type: ignore[union-attr]
    with session_scope(engine, readonly=True) as session:
        assert audit.tree_size(session) == 1 + 3
        assert session.exec(select(func.count()).select_from(Record)).one() == 1 + 3
    # A refused report's token is not spent: sent again correctly, it goes in.
    wrong_holders.headers = dict(wrong_holders.sealed.headers)
    _check_receipt(wrong_holders.send(service, org).receipt, org)


def test_the_same_token_twice_in_one_batch_is_accepted_once(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    first = Source(service, org)
    twice = [Source(service, org) for _ in range(2)]
    twice[1].token, twice[1].counter = twice[0].token, twice[0].counter
    futures = one_batch(service, engine, _senders(service, org, [first, *twice]))
    outcomes = [_outcome(f) for f in futures[1:]]
    assert sum(isinstance(o, Completed) for o in outcomes) == 1
    assert PowRefused in outcomes
    with session_scope(engine, readonly=True) as session:
        assert audit.tree_size(session) == 2


@pytest.mark.parametrize("failure", [OSError, KeyboardInterrupt])
def test_a_batch_whose_transaction_fails_acknowledges_nobody(
    service: Submissions,
    org: OrgSetup,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    failure: type[BaseException],
) -> None:
    real_insert = batch._insert

    def insert_then_fail(*args: Any) -> list[batch.Logged]:
        real_insert(*args)  # everything is written, then the commit never happens
        raise failure("the disk went away")

    monkeypatch.setattr(batch, "_insert", insert_then_fail)
    sources = [Source(service, org) for _ in range(4)]
    futures = one_batch(service, engine, _senders(service, org, sources))
    assert [_outcome(f) for f in futures] == [failure] * 4
    with session_scope(engine, readonly=True) as session:
        assert audit.tree_size(session) == 0
        for table in (Submission, Record, PayloadChunk, RecordHeader, PowRedemption):
            assert session.exec(select(func.count()).select_from(table)).one() == 0
    monkeypatch.setattr(batch, "_insert", real_insert)
    # Nothing was spent: the same reports go in when sent again.
    for source in sources:
        _check_receipt(source.send(service, org).receipt, org)


def test_a_token_spent_by_another_worker_since_the_check_fails_alone(
    service: Submissions, org: OrgSetup, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process spending a token between the check and the insert looks, to this
    # batch, like a check that found nothing: the insert fails, and each report is written
    # again alone.
    spent = Source(service, org)
    spent.send(service, org)
    replay = Source(service, org, token=spent.token)
    replay.binding, replay.counter = spent.binding, spent.counter
    replay.sealed, replay.headers = spent.sealed, dict(spent.headers)
    monkeypatch.setattr(batch, "_existing", lambda *_: set())
    sends = [Source(service, org), Source(service, org), replay, Source(service, org)]
    futures = one_batch(service, engine, _senders(service, org, sends))
    outcomes = [_outcome(f) for f in futures]
    assert outcomes[2] is Conflict
    for outcome in [outcomes[0], outcomes[1], outcomes[3]]:
        assert isinstance(outcome, Completed)
        _check_receipt(outcome.receipt, org)
    with session_scope(engine, readonly=True) as session:
        assert audit.tree_size(session) == 4


def test_a_new_roster_is_seen_by_the_next_batch(
    service: Submissions, org: OrgSetup, db_settings: Settings, engine: Engine
) -> None:
    Source(service, org).send(service, org)  # the holders are now cached
    newer = _publish_again(db_settings, engine, org)
    stale = Source(service, org)
    with pytest.raises(Invalid, match="exactly the roster's intake holders"):
        stale.send(service, org)
    fresh = Source(service, newer)
    _check_receipt(fresh.send(service, newer).receipt, newer)


def _x25519() -> str:
    return age.recipient_of(age.generate_identity("x25519"))


def _publish_again(settings: Settings, engine: Engine, org: OrgSetup) -> OrgSetup:
    """Roster version 2, naming other holders (as `prepare_org` writes version 1)."""

    newer = OrgSetup(org.log_signer)
    identity = age.generate_identity("pq")
    newer.holders[random_base32(16)] = (identity, age.recipient_of(identity))
    intake = [{"id": h, "recipient": r} for h, r in newer.recipients.items()]
    public = signed_public_roster(2, {"recipient_type": "pq"}, org.log_signer, intake)
    with session_scope(engine) as session:
        session.add(
            RosterVersion(
                version=2,
                signed_roster=b"unused here",
                signed_public_roster=public,
                published_on=today(),
                expires_on=today() + timedelta(days=30),
            )
        )
    return newer


def test_two_workers_committing_at_once_keep_one_log(
    db_settings: Settings, engine: Engine, org: OrgSetup, service: Submissions
) -> None:
    # Two `Submissions` (two API worker processes, each its own committer) on one database.
    other = Submissions(
        engine=engine, settings=db_settings, pow=service.pow, refusals=RefusalCounter(engine)
    )
    work = [(s, Source(service, org)) for _ in range(10) for s in (service, other)]
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda pair: pair[1].send(pair[0], org), work))
    for completed in done:
        _check_receipt(completed.receipt, org)
    assert sorted(c.receipt.index for c in done) == list(range(20))
    with session_scope(engine, readonly=True) as session:
        entries = audit.entries(session, start=0, end=20)
        latest = audit.latest_checkpoint(session)
    assert latest is not None
    assert latest.tree_size == 20
    verify_log(entries, latest.note, origin=org.log_signer.name, log=org.log_signer.verifier)


def test_a_report_whose_caller_gave_up_before_its_batch_is_not_written(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    # The API awaits the future; a cancelled await cancels it. Before the writer takes the
    # report, that drops it: nothing is written, its token is not spent.
    first, dropped = Source(service, org), Source(service, org)
    service.sweep_if_due()
    with ThreadPoolExecutor(1) as pool:
        with gate(engine):
            sent = pool.submit(first.send, service, org)
            _wait_for(lambda: service.committer.writing and service.committer.queued == 0)
            future = service.committer.enqueue(dropped.checked(service), org.log_signer)
            assert future.cancel()
        _check_receipt(sent.result().receipt, org)
    _wait_for(lambda: not service.committer.writing and service.committer.queued == 0)
    with session_scope(engine, readonly=True) as session:
        assert audit.tree_size(session) == 1
    _check_receipt(dropped.send(service, org).receipt, org)


def test_closing_the_committer_writes_what_is_queued_and_refuses_more(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    sources = [Source(service, org) for _ in range(3)]
    service.sweep_if_due()
    with ThreadPoolExecutor(1) as pool:
        with gate(engine):
            futures = [
                service.committer.enqueue(s.checked(service), org.log_signer) for s in sources
            ]
            _wait_for(lambda: service.committer.writing)
            closing = pool.submit(service.committer.close)
        closing.result(timeout=30)
    for future in futures:
        _check_receipt(future.result(timeout=0).receipt, org)
    with pytest.raises(RuntimeError, match="closed"):
        service.committer.enqueue(Source(service, org).checked(service), org.log_signer)


def test_coroutines_awaiting_one_batch_are_woken_once(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    # `commit` is how the API waits: no thread per request, and one wake-up of the event
    # loop per batch however many of its reports the loop awaits (a refused one included).
    sources = [Source(service, org) for _ in range(4)]
    spent_twice = Source(service, org, token=sources[1].token)
    committer = service.committer
    service.sweep_if_due()

    async def send_all() -> tuple[list[Any], int]:
        loop = asyncio.get_running_loop()
        wakeups: list[object] = []
        call_soon_threadsafe = loop.call_soon_threadsafe

        def counted(*args: Any, **kwargs: Any) -> Any:
            wakeups.append(args[0])
            return call_soon_threadsafe(*args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign, assignment]
        with gate(engine):
            first = asyncio.create_task(
                committer.commit(sources[0].checked(service), org.log_signer)
            )
            await _until(lambda: committer.writing and committer.queued == 0)
            rest = [
                asyncio.create_task(committer.commit(s.checked(service), org.log_signer))
                for s in [*sources[1:], spent_twice]
            ]
            await _until(lambda: committer.queued == len(rest))
        outcomes = await asyncio.gather(first, *rest, return_exceptions=True)
        return outcomes, len(wakeups)

    outcomes, wakeups = _run(send_all())
    assert wakeups == 2  # the first report's batch, then the other five's
    assert isinstance(outcomes[-1], PowRefused)
    logged = [o for o in outcomes[:-1] if isinstance(o, batch.Logged)]
    assert len(logged) == 4
    assert len({item.receipt.tree_size for item in logged[1:]}) == 1
    with session_scope(engine, readonly=True) as session:
        assert audit.tree_size(session) == 4


def test_a_cancelled_commit_before_its_batch_is_not_written(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    first, dropped = Source(service, org), Source(service, org)
    committer = service.committer
    service.sweep_if_due()

    async def send_then_give_up() -> batch.Logged:
        with gate(engine):
            sent = asyncio.create_task(committer.commit(first.checked(service), org.log_signer))
            await _until(lambda: committer.writing and committer.queued == 0)
            waiting = asyncio.create_task(
                committer.commit(dropped.checked(service), org.log_signer)
            )
            await _until(lambda: committer.queued == 1)
            waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return await sent

    _check_receipt(_run(send_then_give_up()).receipt, org)
    _wait_for(lambda: not committer.writing and committer.queued == 0)
    with session_scope(engine, readonly=True) as session:
        assert audit.tree_size(session) == 1
    # Its token was not spent: the same report goes through afterwards.
    _check_receipt(dropped.send(service, org).receipt, org)


_T = TypeVar("_T")


def _run(main: Coroutine[Any, Any, _T]) -> _T:
    """`asyncio.run(main)` on a thread of its own. The browser tests' session-wide
    Playwright (tests/browser/conftest.py), if it ran earlier on this xdist worker, leaves
    its loop marked as running in the main thread between calls, where `asyncio.run`
    refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main).result()


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the reports never queued"
        await asyncio.sleep(0.01)
