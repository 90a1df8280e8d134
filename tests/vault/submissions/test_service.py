"""Submissions over a real database (SQLite and PostgreSQL): proof of work, chunks at exact
offsets, completion into records and log entries, a source's lookup and follow-ups, and
the expiry of abandoned uploads."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from crypto import age, merkle
from crypto.checkpoint import open_checkpoint
from crypto.codename import lookup_hash
from crypto.merkle.rfc6962 import hash_leaf
from vault import audit
from vault.accounts.codes import today
from vault.accounts.refusals import RefusalCounter
from vault.audit import Action, LoggedEvent, decode_event
from vault.db import session_scope
from vault.errors import Conflict, Invalid, NotFound
from vault.models import (
    PayloadChunk,
    PowRedemption,
    Record,
    RecordHeader,
    RecordKind,
    Submission,
)
from vault.settings import Settings
from vault.submissions.errors import OffsetMismatch, PowRefused, TooLarge
from vault.submissions.pow import ProofOfWork
from vault.submissions.service import (
    BAD_LOOKUP,
    POW_REFUSED,
    Completed,
    Created,
    NewRecord,
    Sealing,
    Submissions,
    expire_staged,
    pow_binding,
)

from .support import OrgSetup, SealedRecord, prepare_org, seal_record, solve

SECRET = os.urandom(32)


@pytest.fixture
def org(db_settings: Settings, engine: Engine) -> OrgSetup:
    return prepare_org(db_settings, engine)


def _service(settings: Settings, engine: Engine, **changes: object) -> Submissions:
    if changes:
        settings = settings.model_copy(update=changes)
    return Submissions(
        engine=engine,
        settings=settings,
        pow=ProofOfWork(os.urandom(32), bits=settings.kdf.pow_bits),
        refusals=RefusalCounter(engine),
    )


@pytest.fixture
def service(db_settings: Settings, engine: Engine, org: OrgSetup) -> Submissions:
    return _service(db_settings, engine)


def _declared(sealed: list[SealedRecord]) -> list[NewRecord]:
    kinds = [RecordKind.REPORT] + [RecordKind.ATTACHMENT] * (len(sealed) - 1)
    return [NewRecord(kind, len(s.payload)) for kind, s in zip(kinds, sealed, strict=True)]


def _create(service: Submissions, records: list[NewRecord]) -> Created:
    binding = pow_binding([{"kind": r.kind.value, "size": r.size} for r in records])
    token = service.pow.issue()
    return service.create(records, token=token, counter=solve(token, binding), binding=binding)


def _upload(service: Submissions, created: Created, sealed: list[SealedRecord], chunk: int) -> None:
    for state, record in zip(created.records, sealed, strict=True):
        for offset in range(0, len(record.payload), chunk):
            data = record.payload[offset : offset + chunk]
            service.append_chunk(created.id, state.id, offset=offset, data=data)


def _sealings(created: Created, sealed: list[SealedRecord]) -> list[Sealing]:
    return [
        Sealing(state.id, record.commitment, record.headers)
        for state, record in zip(created.records, sealed, strict=True)
    ]


def _submit(
    service: Submissions, org: OrgSetup, count: int = 2
) -> tuple[Created, list[SealedRecord]]:
    sealed = [seal_record(os.urandom(3000 + i), org.recipients) for i in range(count)]
    created = _create(service, _declared(sealed))
    _upload(service, created, sealed, chunk=1000)
    return created, sealed


def _complete(
    service: Submissions, org: OrgSetup, created: Created, sealed: list[SealedRecord]
) -> Completed:
    sealings = _sealings(created, sealed)
    return service.complete(
        created.id, sealings, lookup_hash=lookup_hash(SECRET), signer=org.log_signer
    )


def _check_receipt(receipt: LoggedEvent, org: OrgSetup) -> None:
    checkpoint, _ = open_checkpoint(
        receipt.checkpoint, origin=org.log_signer.name, log=org.log_signer.verifier
    )
    assert checkpoint.tree_size == receipt.tree_size
    merkle.verify_inclusion(
        leaf_hash=hash_leaf(receipt.entry),
        index=receipt.index,
        tree_size=receipt.tree_size,
        proof=receipt.proof,
        root=checkpoint.root_hash,
    )


def test_a_submission_becomes_records_its_holders_can_open(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    created, sealed = _submit(service, org, count=3)
    completed = _complete(service, org, created, sealed)
    _check_receipt(completed.receipt, org)
    report_id = created.records[0].id
    assert completed.log_indices[0] == (report_id, completed.receipt.index)
    # The report's entry comes last, so its checkpoint covers the attachments' too.
    assert [index for _, index in completed.log_indices[1:]] == [
        completed.receipt.index - 2,
        completed.receipt.index - 1,
    ]
    with session_scope(engine, readonly=True) as session:
        for state, record in zip(created.records, sealed, strict=True):
            row = session.get(Record, state.id)
            assert row is not None
            assert row.completed
            assert row.commitment == record.commitment
            assert row.parent_id == (None if state.kind is RecordKind.REPORT else report_id)
            chunks = session.exec(
                select(PayloadChunk)
                .where(PayloadChunk.record_id == state.id)
                .order_by(col(PayloadChunk.offset))
            ).all()
            payload = b"".join(chunk.data for chunk in chunks)
            headers = session.exec(select(RecordHeader).where(RecordHeader.record_id == state.id))
            for header in headers:
                identity = org.holders[header.holder][0]
                opened = io.BytesIO()
                age.decrypt(io.BytesIO(header.header + payload), opened, [identity])
                assert opened.getvalue() == record.plaintext
            assert row.log_index is not None
            entry = decode_event(
                audit.entries(session, start=row.log_index, end=row.log_index + 1)[0]
            )
            assert entry.action is Action.RECORD_SUBMITTED
            assert entry.record == state.id
            assert entry.commitment == record.commitment.hex()
            assert entry.holders == tuple(sorted(org.holders))
    view = service.lookup(SECRET)
    assert [r.id for r in view.records] == [s.id for s in created.records]
    assert view.replies == []
    assert view.followups == []


def test_nothing_is_visible_before_completion(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    created, _ = _submit(service, org)
    with pytest.raises(NotFound):
        service.lookup(SECRET)
    with session_scope(engine, readonly=True) as session:
        assert session.exec(select(func.count()).select_from(RecordHeader)).one() == 0
        assert session.exec(select(Record).where(col(Record.completed))).all() == []
        assert audit.tree_size(session) == 0
    assert service.status(created.id)[0] is False


def test_an_upload_resumes_at_the_servers_offset_and_no_elsewhere(
    service: Submissions, org: OrgSetup
) -> None:
    sealed = [seal_record(os.urandom(5000), org.recipients)]
    created = _create(service, _declared(sealed))
    rid = created.records[0].id
    payload = sealed[0].payload
    assert service.append_chunk(created.id, rid, offset=0, data=payload[:2000]) == 2000
    with pytest.raises(OffsetMismatch) as wrong:
        service.append_chunk(created.id, rid, offset=0, data=payload[:2000])
    assert wrong.value.received == 2000
    with pytest.raises(OffsetMismatch):
        service.append_chunk(created.id, rid, offset=2500, data=payload[2500:])
    done, states = service.status(created.id)
    assert not done
    assert states[0].received == 2000
    assert service.append_chunk(created.id, rid, offset=2000, data=payload[2000:]) == len(payload)
    with pytest.raises(TooLarge):
        service.append_chunk(created.id, rid, offset=len(payload), data=b"x")


def test_sizes_over_the_policy_are_refused(
    db_settings: Settings, engine: Engine, org: OrgSetup
) -> None:
    service = _service(db_settings, engine, max_report_bytes=100, max_attachments=1)
    token = service.pow.issue()
    with pytest.raises(TooLarge):
        service.create([NewRecord(RecordKind.REPORT, 101)], token=token, counter=0, binding=b"b")
    too_many = [NewRecord(RecordKind.REPORT, 10)] + [NewRecord(RecordKind.ATTACHMENT, 10)] * 2
    with pytest.raises(Invalid, match="at most 1 attachments"):
        service.create(too_many, token=token, counter=0, binding=b"b")
    with pytest.raises(Invalid, match="first record"):
        service.create([NewRecord(RecordKind.ATTACHMENT, 10)], token=token, counter=0, binding=b"b")


def _solves(token: str, binding: bytes, counter: int) -> bool:
    raw = base64.urlsafe_b64decode(token + "==")
    digest = hashlib.sha256(raw + binding + counter.to_bytes(8, "big")).digest()
    return int.from_bytes(digest, "big") >> (256 - raw[1]) == 0


def test_bad_replayed_and_expired_proofs_of_work_are_refused_and_counted(
    service: Submissions, engine: Engine
) -> None:
    records = [NewRecord(RecordKind.REPORT, 100)]
    binding = pow_binding([{"kind": "report", "size": 100}])
    token = service.pow.issue()
    counter = solve(token, binding)
    short = next(c for c in range(1000) if not _solves(token, binding, c))
    with pytest.raises(PowRefused, match="not enough work"):
        service.create(records, token=token, counter=short, binding=binding)
    service.create(records, token=token, counter=counter, binding=binding)
    with pytest.raises(PowRefused, match="used before"):
        service.create(records, token=token, counter=counter, binding=binding)
    stale = service.pow.issue(now=time.time() - 3600)
    with pytest.raises(PowRefused, match="expired"):
        service.create(records, token=stale, counter=solve(stale, binding), binding=binding)
    foreign = ProofOfWork(os.urandom(32), bits=2).issue()
    with pytest.raises(PowRefused, match="not issued"):
        service.create(records, token=foreign, counter=solve(foreign, binding), binding=binding)
    assert service.refusals.pending() == {POW_REFUSED: 4}
    with session_scope(engine, readonly=True) as session:
        assert len(session.exec(select(Submission)).all()) == 1
        assert len(session.exec(select(PowRedemption)).all()) == 1


def test_headers_must_be_one_stanza_of_the_orgs_type_for_exactly_the_holders(
    service: Submissions, org: OrgSetup
) -> None:
    created, sealed = _submit(service, org, count=1)
    sealing = _sealings(created, sealed)[0]

    def complete(sealing: Sealing) -> None:
        service.complete(
            created.id, [sealing], lookup_hash=lookup_hash(SECRET), signer=org.log_signer
        )

    holders = list(org.holders)
    missing = Sealing(sealing.id, sealing.commitment, {holders[0]: sealing.headers[holders[0]]})
    with pytest.raises(Invalid, match="exactly the roster"):
        complete(missing)
    extra = {**sealing.headers, "A" * 26: sealing.headers[holders[0]]}
    with pytest.raises(Invalid, match="exactly the roster"):
        complete(Sealing(sealing.id, sealing.commitment, extra))
    classical = age.recipient_of(age.generate_identity("x25519"))
    x25519 = seal_record(b"x", {holders[0]: classical}).headers[holders[0]]
    with pytest.raises(Invalid, match="recipient type"):
        complete(Sealing(sealing.id, sealing.commitment, {**sealing.headers, holders[0]: x25519}))
    two = age.make_header(os.urandom(16), list(org.recipients.values()))
    with pytest.raises(Invalid, match="exactly one stanza"):
        complete(Sealing(sealing.id, sealing.commitment, {**sealing.headers, holders[0]: two}))
    with pytest.raises(Invalid, match="not a complete age header"):
        complete(Sealing(sealing.id, sealing.commitment, {**sealing.headers, holders[0]: b"no"}))
    assert service.status(created.id)[0] is False
    complete(sealing)
    assert service.status(created.id)[0] is True


def test_the_recovery_recipient_holds_every_record_when_the_policy_names_one(
    db_settings: Settings, engine: Engine
) -> None:
    org = prepare_org(db_settings, engine, recovery=True)
    service = _service(db_settings, engine)
    created, sealed = _submit(service, org, count=1)
    completed = _complete(service, org, created, sealed)
    assert decode_event(completed.receipt.entry).holders == tuple(sorted(org.holders))


def test_an_incomplete_payload_cannot_be_completed(service: Submissions, org: OrgSetup) -> None:
    sealed = [seal_record(os.urandom(3000), org.recipients)]
    created = _create(service, _declared(sealed))
    service.append_chunk(created.id, created.records[0].id, offset=0, data=sealed[0].payload[:10])
    with pytest.raises(Conflict, match="has 10 of its"):
        _complete(service, org, created, sealed)


def test_completing_again_gives_the_same_records_and_a_fresh_receipt(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    created, sealed = _submit(service, org)
    sealings = _sealings(created, sealed)
    first = service.complete(
        created.id, sealings, lookup_hash=lookup_hash(SECRET), signer=org.log_signer
    )
    with session_scope(engine, readonly=True) as session:
        size = audit.tree_size(session)
    again = service.complete(
        created.id, sealings, lookup_hash=lookup_hash(SECRET), signer=org.log_signer
    )
    assert again.log_indices == first.log_indices
    assert again.receipt.entry == first.receipt.entry
    _check_receipt(again.receipt, org)
    with session_scope(engine, readonly=True) as session:
        assert audit.tree_size(session) == size
    with pytest.raises(Conflict, match="other values"):
        service.complete(
            created.id, sealings, lookup_hash=lookup_hash(os.urandom(32)), signer=org.log_signer
        )
    with pytest.raises(Conflict, match="complete"):
        service.append_chunk(created.id, created.records[0].id, offset=0, data=b"x")


def test_a_lookup_secret_names_one_report(service: Submissions, org: OrgSetup) -> None:
    first, second = _submit(service, org, count=1), _submit(service, org, count=1)
    for (created, sealed), outcome in ((first, None), (second, "another report")):
        with pytest.raises(Conflict, match=outcome) if outcome else contextlib.nullcontext():
            _complete(service, org, created, sealed)
    assert service.status(second[0].id)[0] is False


def test_a_wrong_lookup_secret_finds_nothing_and_is_counted(service: Submissions) -> None:
    with pytest.raises(NotFound):
        service.lookup(os.urandom(32))
    with pytest.raises(NotFound):
        service.add_followup(
            os.urandom(32), record_id="A" * 26, sequence=1, sealed=b"", mac=bytes(32)
        )
    assert service.refusals.pending() == {BAD_LOOKUP: 2}


def test_followups_are_numbered_one_more_than_the_last(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    created, sealed = _submit(service, org, count=2)
    _complete(service, org, created, sealed)
    rid = created.records[0].id
    out = io.BytesIO()
    age.encrypt(io.BytesIO(b"more to say"), out, list(org.recipients.values()))
    followup = out.getvalue()
    service.add_followup(SECRET, record_id=rid, sequence=1, sealed=followup, mac=bytes(32))
    for wrong in (1, 3):
        with pytest.raises(Conflict, match="number 2"):
            service.add_followup(
                SECRET, record_id=rid, sequence=wrong, sealed=followup, mac=bytes(32)
            )
    service.add_followup(SECRET, record_id=rid, sequence=2, sealed=followup, mac=bytes(32))
    with pytest.raises(Invalid, match="not an age file"):
        service.add_followup(SECRET, record_id=rid, sequence=3, sealed=b"plain", mac=bytes(32))
    with pytest.raises(NotFound):
        service.add_followup(SECRET, record_id="A" * 26, sequence=1, sealed=followup, mac=bytes(32))
    assert service.lookup(SECRET).followups == [(rid, 1), (rid, 2)]
    # A deleted record (its payload gone, see vault.records.deletion) takes no follow-up.
    attachment = created.records[1].id
    with session_scope(engine) as session:
        row = session.get(Record, attachment)
        assert row is not None
        row.received = 0
        session.add(row)
    with pytest.raises(NotFound):
        service.add_followup(
            SECRET, record_id=attachment, sequence=1, sealed=followup, mac=bytes(32)
        )
    assert [r.id for r in service.lookup(SECRET).records] == [rid]


def test_abandoned_uploads_expire_with_their_chunks(
    service: Submissions, org: OrgSetup, engine: Engine, db_settings: Settings
) -> None:
    done, sealed = _submit(service, org)
    _complete(service, org, done, sealed)
    abandoned, _ = _submit(service, org)
    assert expire_staged(engine) == 0
    later = today() + timedelta(days=db_settings.staged_upload_days + 1)
    assert expire_staged(engine, today=later) == 1
    with session_scope(engine, readonly=True) as session:
        assert session.get(Submission, abandoned.id) is None
        assert all(session.get(Record, r.id) is None for r in abandoned.records)
        left = session.exec(select(PayloadChunk.record_id).distinct()).all()
        assert set(left) == {r.id for r in done.records}
        assert session.exec(select(PowRedemption)).all() == []
    with pytest.raises(NotFound):
        service.status(abandoned.id)
    assert len(service.lookup(SECRET).records) == 2


def test_a_small_report_is_submitted_in_one_request(service: Submissions, org: OrgSetup) -> None:
    record = seal_record(b"a short report", org.recipients)
    declared = NewRecord(RecordKind.REPORT, len(record.payload))
    binding = pow_binding([{"kind": "report", "size": declared.size}])
    token = service.pow.issue()
    completed = service.submit_whole(
        declared,
        payload=record.payload,
        sealing=Sealing("", record.commitment, record.headers),
        lookup_hash=lookup_hash(SECRET),
        token=token,
        counter=solve(token, binding),
        binding=binding,
        signer=org.log_signer,
    )
    _check_receipt(completed.receipt, org)
    assert service.status(completed.id)[0] is True
    assert [r.id for r in service.lookup(SECRET).records] == [completed.log_indices[0][0]]


def test_racing_completions_and_chunks_agree(
    service: Submissions, org: OrgSetup, engine: Engine
) -> None:
    # Workers on one database: two completions of one submission log it once; two chunks
    # at one offset store one.
    created, sealed = _submit(service, org, count=3)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: _complete(service, org, created, sealed), range(4)))
    assert len({tuple(r.log_indices) for r in results}) == 1
    with session_scope(engine, readonly=True) as session:
        assert audit.tree_size(session) == 3
    record = seal_record(os.urandom(4000), org.recipients)
    staged = _create(service, _declared([record]))
    rid = staged.records[0].id

    def put(_: int) -> str:
        try:
            service.append_chunk(staged.id, rid, offset=0, data=record.payload[:1000])
        except Conflict as exc:
            return type(exc).__name__
        return "stored"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(put, range(4)))
    assert outcomes.count("stored") == 1
    assert service.status(staged.id)[1][0].received == 1000
