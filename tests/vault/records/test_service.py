"""`vault.records`: every caseworker action on SQLite and PostgreSQL, each leaving exactly
its own log entry in its own transaction, and the log meaning what an auditor expects."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from crypto import age
from crypto.checkpoint import open_checkpoint
from crypto.merkle import verify_inclusion
from crypto.merkle.rfc6962 import hash_leaf
from tests.vault.records.conftest import Team
from tests.vault.records.support import (
    LOG_SIGNER,
    Seeded,
    Staff,
    assert_log_honest,
    grant_statement,
    header_for,
    headers_of,
    log_entries,
    log_size,
    race,
    seed_record,
)
from vault import audit
from vault.accounts.codes import today
from vault.audit import Action
from vault.db import session_scope
from vault.errors import Forbidden, Invalid, NotFound
from vault.models import RECOVERY_HOLDER, Followup, PayloadChunk, Record, RecordKind, Reply
from vault.records import NOT_A_HOLDER, NOT_A_RECIPIENT, Records, open_payload

MISSING = "A" * 26


@pytest.fixture
def records(engine: Engine) -> Records:
    return Records(engine)


@pytest.fixture
def report(engine: Engine, team: Team) -> Seeded:
    return seed_record(
        engine,
        {team.intake.id: team.intake.recipient},
        plaintext=bytes(range(256)) * 20,
        chunk_bytes=1000,
    )


def _only_new_entry(engine: Engine, before: int) -> audit.Event:
    (event,) = log_entries(engine, before)
    return event


def _opens(header: bytes, payload: bytes, identity: str) -> bytes:
    out = io.BytesIO()
    age.decrypt(io.BytesIO(header + payload), out, [identity])
    return out.getvalue()


def _payload(engine: Engine, staff: Staff, record_id: str, start: int = 0) -> bytes:
    stream = open_payload(engine, staff.account, record_id, start=start)
    return b"".join(stream.chunks)


# --- the inbox ----------------------------------------------------------------------------


def test_the_inbox_lists_only_records_the_caller_holds(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    seed_record(engine, {team.colleague.id: team.colleague.recipient})
    before = log_size(engine)
    (listed,) = records.inbox(team.intake.account)
    assert (listed.id, listed.kind, listed.size) == (
        report.id,
        RecordKind.REPORT,
        len(report.payload),
    )
    assert listed.holders == [team.intake.id]
    assert listed.log_index == report.log_index
    assert records.inbox(team.caseworker.account) == []
    assert log_size(engine) == before  # ids and sizes only: not logged


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_admins_and_auditors_are_refused_and_logged(
    engine: Engine, records: Records, team: Team, report: Seeded, role: str
) -> None:
    staff = getattr(team, role)
    before = log_size(engine)
    with pytest.raises(Forbidden):
        records.inbox(staff.account)
    with pytest.raises(Forbidden):
        records.fetch_header(staff.account, report.id, signer=LOG_SIGNER)
    refusals = log_entries(engine, before)
    assert [(e.action, e.actor, e.reason) for e in refusals] == [
        (Action.REFUSED, staff.id, NOT_A_RECIPIENT)
    ] * 2


# --- headers ------------------------------------------------------------------------------


def test_a_header_comes_with_the_proof_of_its_own_fetch(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    before = log_size(engine)
    fetched = records.fetch_header(team.intake.account, report.id, signer=LOG_SIGNER)
    assert _opens(fetched.header, report.payload, team.intake.identity) == report.plaintext
    event = _only_new_entry(engine, before)
    assert (event.action, event.actor, event.record, event.part) == (
        Action.RECORD_FETCHED,
        team.intake.id,
        report.id,
        "header",
    )
    fetch = fetched.fetch
    assert (fetch.index, fetch.tree_size, fetch.entry) == (
        before,
        before + 1,
        audit.encode_event(event),
    )
    checkpoint, _ = open_checkpoint(
        fetch.checkpoint, origin=LOG_SIGNER.name, log=LOG_SIGNER.verifier
    )
    assert checkpoint.tree_size == fetch.tree_size
    for entry, index, proof in (
        (fetch.entry, fetch.index, fetch.proof),
        (fetched.submitted_entry, report.log_index, fetched.submitted_proof),
    ):
        verify_inclusion(
            leaf_hash=hash_leaf(entry),
            index=index,
            tree_size=checkpoint.tree_size,
            proof=proof,
            root=checkpoint.root_hash,
        )
    assert audit.decode_event(fetched.submitted_entry).action is Action.RECORD_SUBMITTED
    assert_log_honest(engine)


def test_a_record_not_held_and_a_missing_one_answer_alike(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    before = log_size(engine)
    with pytest.raises(NotFound) as not_held:
        records.fetch_header(team.caseworker.account, report.id, signer=LOG_SIGNER)
    with pytest.raises(NotFound) as missing:
        records.fetch_header(team.caseworker.account, MISSING, signer=LOG_SIGNER)
    assert str(not_held.value) == str(missing.value)
    held, absent = log_entries(engine, before)
    assert (held.action, held.actor, held.reason, held.record) == (
        Action.REFUSED,
        team.caseworker.id,
        NOT_A_HOLDER,
        report.id,
    )
    # A record that does not exist is not named: a caller cannot write ids into the log.
    assert (absent.reason, absent.record) == (NOT_A_HOLDER, None)


# --- payloads -----------------------------------------------------------------------------


def test_a_payload_streams_whole_and_from_any_offset(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    before = log_size(engine)
    assert _payload(engine, team.intake, report.id) == report.payload
    event = _only_new_entry(engine, before)
    assert (event.action, event.part, event.actor) == (
        Action.RECORD_FETCHED,
        "payload",
        team.intake.id,
    )
    for start in (1, 999, 1000, 1001, len(report.payload) - 1):
        assert _payload(engine, team.intake, report.id, start) == report.payload[start:]
    assert log_size(engine) == before + 1  # a resumed fetch is not logged again


def test_a_payload_streams_chunk_by_chunk(engine: Engine, team: Team, report: Seeded) -> None:
    stream = open_payload(engine, team.intake.account, report.id, start=1500)
    sizes = [len(chunk) for chunk in stream.chunks]
    assert sizes == [
        500,
        *[1000] * ((len(report.payload) - 2000) // 1000),
        len(report.payload) % 1000,
    ]


def test_a_range_past_the_end_is_refused_unlogged(
    engine: Engine, team: Team, report: Seeded
) -> None:
    before = log_size(engine)
    with pytest.raises(Invalid):
        open_payload(engine, team.intake.account, report.id, start=len(report.payload))
    assert log_size(engine) == before


def test_a_payload_not_held_is_refused(engine: Engine, team: Team, report: Seeded) -> None:
    before = log_size(engine)
    with pytest.raises(NotFound):
        open_payload(engine, team.caseworker.account, report.id, start=0)
    assert _only_new_entry(engine, before).reason == NOT_A_HOLDER


# --- grants and revokes -------------------------------------------------------------------


def _grant(
    records: Records, granter: Staff, seeded: Seeded, grantee: Staff, **changes: object
) -> bool:
    body: dict[str, object] = {
        "target": grantee.id,
        "header": header_for(seeded, grantee),
        "statement": grant_statement(granter, seeded.id, grantee),
    }
    body.update(changes)
    return records.grant(granter.account, seeded.id, **body)  # type: ignore[arg-type]


def test_a_grant_lets_the_colleague_open_the_record(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    before = log_size(engine)
    assert _grant(records, team.intake, report, team.caseworker) is True
    event = _only_new_entry(engine, before)
    assert (event.action, event.actor, event.target, event.record) == (
        Action.RECORD_GRANTED,
        team.intake.id,
        team.caseworker.id,
        report.id,
    )
    fetched = records.fetch_header(team.caseworker.account, report.id, signer=LOG_SIGNER)
    assert _opens(fetched.header, report.payload, team.caseworker.identity) == report.plaintext
    assert fetched.record.holders == sorted([team.intake.id, team.caseworker.id])
    assert_log_honest(engine)


def test_granting_twice_is_harmless_and_logged_once(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    assert _grant(records, team.intake, report, team.caseworker) is True
    before = log_size(engine)
    assert _grant(records, team.intake, report, team.caseworker) is False
    assert log_size(engine) == before
    assert set(headers_of(engine, report.id)) == {team.intake.id, team.caseworker.id}


def test_racing_grants_store_one_header_and_one_entry(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    before = log_size(engine)
    results = race(6, lambda: _grant(records, team.intake, report, team.caseworker))
    assert sorted(results, key=str) == [False] * 5 + [True]
    assert [e.action for e in log_entries(engine, before)] == [Action.RECORD_GRANTED]
    assert set(headers_of(engine, report.id)) == {team.intake.id, team.caseworker.id}


BadGrant = Callable[[Team, Seeded], dict[str, object]]
BAD_GRANTS: dict[str, BadGrant] = {
    "two-stanzas": lambda t, s: {
        "header": age.make_header(s.file_key, [t.caseworker.recipient, t.colleague.recipient])
    },
    # The team's org is X25519: a post-quantum stanza is of another type, refused alike.
    "another-stanza-type": lambda t, s: {
        "header": age.make_header(s.file_key, [age.recipient_of(age.generate_identity("pq"))])
    },
    "not-a-header": lambda t, s: {"header": b"age-encryption.org/v1\n"},
    "unsigned-statement": lambda t, s: {"statement": b"{}\n"},
    "statement-by-another": lambda t, s: {
        "statement": grant_statement(t.colleague, s.id, t.caseworker)
    },
    "statement-for-another-target": lambda t, s: {
        "statement": grant_statement(t.intake, s.id, t.colleague)
    },
    "statement-for-another-record": lambda t, s: {
        "statement": grant_statement(t.intake, MISSING, t.caseworker)
    },
}


@pytest.mark.parametrize("bad", BAD_GRANTS)
def test_a_bad_grant_is_refused_and_changes_nothing(
    engine: Engine, records: Records, team: Team, report: Seeded, bad: str
) -> None:
    before = log_size(engine)
    with pytest.raises(Invalid):
        _grant(records, team.intake, report, team.caseworker, **BAD_GRANTS[bad](team, report))
    assert log_size(engine) == before
    assert set(headers_of(engine, report.id)) == {team.intake.id}


@pytest.mark.parametrize("target", ["admin", "auditor", "disabled", "unknown"])
def test_a_grant_goes_only_to_an_active_recipient(
    engine: Engine, records: Records, team: Team, report: Seeded, target: str
) -> None:
    if target == "disabled":
        with session_scope(engine) as session:
            account = session.get(type(team.colleague.account), team.colleague.account.id)
            assert account is not None
            account.disabled = True
            session.add(account)
    chosen = team.colleague if target in ("disabled", "unknown") else getattr(team, target)
    changes = {"target": MISSING} if target == "unknown" else {}
    with pytest.raises(Invalid):
        _grant(records, team.intake, report, chosen, **changes)
    assert set(headers_of(engine, report.id)) == {team.intake.id}


def test_only_a_holder_may_grant(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    before = log_size(engine)
    with pytest.raises(NotFound):
        _grant(records, team.caseworker, report, team.colleague)
    assert _only_new_entry(engine, before).reason == NOT_A_HOLDER
    assert set(headers_of(engine, report.id)) == {team.intake.id}


def test_a_revoke_removes_the_header_and_is_logged(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    _grant(records, team.intake, report, team.caseworker)
    records.fetch_header(team.caseworker.account, report.id, signer=LOG_SIGNER)
    before = log_size(engine)
    records.revoke(team.intake.account, report.id, target=team.caseworker.id)
    event = _only_new_entry(engine, before)
    assert (event.action, event.actor, event.target) == (
        Action.RECORD_REVOKED,
        team.intake.id,
        team.caseworker.id,
    )
    with pytest.raises(NotFound):
        records.fetch_header(team.caseworker.account, report.id, signer=LOG_SIGNER)
    assert records.inbox(team.caseworker.account) == []
    with pytest.raises(NotFound):  # nothing left to revoke
        records.revoke(team.intake.account, report.id, target=team.caseworker.id)
    assert_log_honest(engine)


def test_the_recovery_header_is_not_revoked_through_the_api(
    engine: Engine, records: Records, team: Team
) -> None:
    recovery = age.recipient_of(age.generate_identity("x25519"))
    seeded = seed_record(engine, {team.intake.id: team.intake.recipient, RECOVERY_HOLDER: recovery})
    with pytest.raises(Invalid):
        records.revoke(team.intake.account, seeded.id, target=RECOVERY_HOLDER)
    assert RECOVERY_HOLDER in headers_of(engine, seeded.id)


# --- threads and replies ------------------------------------------------------------------


def _sealed_reply(team: Team, text: bytes = b"a signed reply") -> bytes:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(text), out, [team.intake.recipient, team.caseworker.recipient])
    return out.getvalue()


def test_replies_are_numbered_and_the_thread_is_logged(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    before = log_size(engine)
    assert records.reply(team.intake.account, report.id, sealed=_sealed_reply(team)) == 1
    assert records.reply(team.intake.account, report.id, sealed=_sealed_reply(team)) == 2
    assert [e.action for e in log_entries(engine, before)] == [Action.RECORD_REPLIED] * 2
    with session_scope(engine) as session:
        session.add(
            Followup(
                record_id=report.id, sequence=1, sealed=b"s", mac=bytes(32), created_on=today()
            )
        )
    before = log_size(engine)
    thread = records.thread(team.intake.account, report.id)
    assert [(r.sequence, r.author) for r in thread.replies] == [
        (1, team.intake.id),
        (2, team.intake.id),
    ]
    assert [f.sequence for f in thread.followups] == [1]
    event = _only_new_entry(engine, before)
    assert (event.action, event.part) == (Action.RECORD_FETCHED, "thread")


def test_racing_replies_get_distinct_numbers(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    sealed = _sealed_reply(team)
    numbers = race(5, lambda: records.reply(team.intake.account, report.id, sealed=sealed))
    assert sorted(numbers, key=str) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "sealed", [b"not an age file", None], ids=["not-age", "another-stanza-type"]
)
def test_a_reply_must_be_an_age_file_of_the_org_type(
    engine: Engine, records: Records, team: Team, report: Seeded, sealed: bytes | None
) -> None:
    if sealed is None:
        out = io.BytesIO()
        pq = age.recipient_of(age.generate_identity("pq"))
        age.encrypt(io.BytesIO(b"x"), out, [pq])
        sealed = out.getvalue()
    before = log_size(engine)
    with pytest.raises(Invalid):
        records.reply(team.intake.account, report.id, sealed=sealed)
    assert log_size(engine) == before


def test_a_reply_goes_on_the_report_not_an_attachment(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    attachment = seed_record(
        engine,
        {team.intake.id: team.intake.recipient},
        kind=RecordKind.ATTACHMENT,
        parent=report.id,
    )
    with pytest.raises(Invalid):
        records.reply(team.intake.account, attachment.id, sealed=_sealed_reply(team))


# --- exports and deletion -----------------------------------------------------------------


def test_an_export_is_logged(engine: Engine, records: Records, team: Team, report: Seeded) -> None:
    before = log_size(engine)
    assert records.export(team.intake.account, report.id) == before
    event = _only_new_entry(engine, before)
    assert (event.action, event.actor, event.record) == (
        Action.RECORD_EXPORTED,
        team.intake.id,
        report.id,
    )


def test_deleting_a_report_deletes_the_attachments_the_caller_holds(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    # A report's attachments are the same testimony: left behind, a "deleted" report's
    # photo would still be on the server. One the caller does not hold stays for its holder.
    holders = {team.intake.id: team.intake.recipient}
    photo = seed_record(engine, holders, kind=RecordKind.ATTACHMENT, parent=report.id)
    video = seed_record(engine, holders, kind=RecordKind.ATTACHMENT, parent=report.id)
    apart = seed_record(
        engine,
        {team.caseworker.id: team.caseworker.recipient},
        kind=RecordKind.ATTACHMENT,
        parent=report.id,
    )
    before = log_size(engine)
    records.delete(team.intake.account, report.id)
    deleted = [(e.action, e.actor, e.record) for e in log_entries(engine, before)]
    assert deleted == [
        (Action.RECORD_DELETED, team.intake.id, rid)
        for rid in [report.id, *sorted([photo.id, video.id])]
    ]
    for gone in (photo, video):
        assert headers_of(engine, gone.id) == {}
    assert list(headers_of(engine, apart.id)) == [team.caseworker.id]
    assert [r.id for r in records.inbox(team.caseworker.account)] == [apart.id]
    assert_log_honest(engine)


def test_a_deletion_removes_all_but_the_row_and_is_logged(
    engine: Engine, records: Records, team: Team, report: Seeded
) -> None:
    _grant(records, team.intake, report, team.caseworker)
    records.reply(team.intake.account, report.id, sealed=_sealed_reply(team))
    before = log_size(engine)
    records.delete(team.caseworker.account, report.id)
    event = _only_new_entry(engine, before)
    assert (event.action, event.actor, event.record) == (
        Action.RECORD_DELETED,
        team.caseworker.id,
        report.id,
    )
    assert headers_of(engine, report.id) == {}
    with session_scope(engine, readonly=True) as session:
        for table in (PayloadChunk, Reply, Followup):
            left = session.exec(select(table).where(table.record_id == report.id)).all()
            assert left == [], table.__tablename__
        record = session.get(Record, report.id)
        assert record is not None
        assert (record.received, record.lookup_hash) == (0, None)
    assert records.inbox(team.intake.account) == []
    with pytest.raises(NotFound):
        records.fetch_header(team.intake.account, report.id, signer=LOG_SIGNER)
    assert_log_honest(engine)
