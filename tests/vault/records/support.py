"""Helpers for the record tests: staff with real keys, and records sealed to them.

Records are put in the database as a completed submission leaves them (docs/submissions.md
step 8: the record, its chunks, one header per holder, its `record.submitted` entry), but
directly, so these tests do not depend on the submission routes.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import select

from client.meaning import check_meaning, decode_entries
from crypto import age, messages, roster
from crypto.commitment import commit
from crypto.note import Signer
from vault import audit
from vault.accounts.codes import random_base32, today
from vault.db import session_scope
from vault.models import (
    Account,
    EnrolledKey,
    EnrolmentCode,
    Org,
    PayloadChunk,
    Record,
    RecordHeader,
    RecordKind,
    Role,
    Submission,
)

LOG_SIGNER = Signer.generate("tvault.test/log")


@dataclass(frozen=True)
class Staff:
    """An account and the keys its device would hold."""

    account: Account
    identity: str
    signing_key: Ed25519PrivateKey

    @property
    def id(self) -> str:
        return self.account.opaque_id

    @property
    def recipient(self) -> str:
        return age.recipient_of(self.identity)


@dataclass(frozen=True)
class Seeded:
    """A record as stored, with what its sealer knew."""

    id: str
    plaintext: bytes
    payload: bytes
    file_key: bytes
    headers: dict[str, bytes]
    log_index: int


def identity_for(recipient_type: str) -> str:
    return age.generate_identity("pq" if recipient_type == "pq" else "x25519")


def make_org(engine: Engine, recipient_type: str = "x25519") -> None:
    key = Signer.generate(roster.ORG_KEY_NAME).verifier.public_key
    with session_scope(engine) as session:
        session.add(
            Org(
                name="Org",
                public_key=key,
                fingerprint=roster.fingerprint(key),
                policy={"recipient_type": recipient_type},
                created_on=today(),
            )
        )


def make_staff(engine: Engine, username: str, role: Role, recipient_type: str = "x25519") -> Staff:
    """An enrolled account of `role`; intake and caseworker accounts get an age identity."""
    identity = identity_for(recipient_type)
    signing_key = Ed25519PrivateKey.generate()
    receives = role in (Role.INTAKE, Role.CASEWORKER)
    with session_scope(engine) as session:
        account = Account(
            opaque_id=random_base32(16),
            username=username,
            role=role,
            password_hash="!",
            created_on=today(),
        )
        session.add(account)
        session.flush()
        assert account.id is not None
        code = EnrolmentCode(
            id=random_base32(5),
            account_id=account.id,
            server_half_hash=bytes(32),
            expires_on=today(),
            used=True,
        )
        session.add(code)
        session.flush()
        session.add(
            EnrolledKey(
                account_id=account.id,
                enrolment_code_id=code.id,
                recipient=age.recipient_of(identity) if receives else "",
                verify_key=signing_key.public_key().public_bytes_raw(),
                enrolment_mac=bytes(32),
                created_on=today(),
            )
        )
    return Staff(account, identity, signing_key)


def seed_record(
    engine: Engine,
    holders: Mapping[str, str],
    *,
    plaintext: bytes = b"a sealed report",
    chunk_bytes: int = 1000,
    kind: RecordKind = RecordKind.REPORT,
    parent: str | None = None,
    day: date | None = None,
) -> Seeded:
    """Seal `plaintext` to `holders` (holder id -> recipient) and store it as completed."""
    out = io.BytesIO()
    sealed = age.seal(io.BytesIO(plaintext), out, list(holders.values()))
    payload = out.getvalue()
    commitment = commit(file_key=sealed.file_key, payload_sha256=hashlib.sha256(payload).digest())
    headers = {holder: sealed.headers[recipient] for holder, recipient in holders.items()}
    record_id = random_base32(16)
    created = day or today()
    with session_scope(engine) as session:
        submission = Submission(
            id=random_base32(16), staged=False, expires_on=created, created_on=created
        )
        session.add(submission)
        session.flush()
        record = Record(
            id=record_id,
            submission_id=submission.id,
            kind=kind,
            parent_id=parent,
            size=len(payload),
            received=len(payload),
            commitment=commitment,
            completed=True,
            created_on=created,
        )
        session.add(record)
        session.flush()
        for offset in range(0, len(payload), chunk_bytes):
            data = payload[offset : offset + chunk_bytes]
            session.add(PayloadChunk(record_id=record_id, offset=offset, data=data))
        for holder, header in headers.items():
            session.add(RecordHeader(record_id=record_id, holder=holder, header=header))
        event = audit.Event(
            action=audit.Action.RECORD_SUBMITTED,
            actor=audit.ANONYMOUS,
            record=record_id,
            commitment=commitment.hex(),
            holders=tuple(holders),
        )
        record.log_index = audit.append(session, event)
        session.add(record)
    return Seeded(record_id, plaintext, payload, sealed.file_key, headers, record.log_index)


def grant_statement(granter: Staff, record_id: str, target: Staff) -> bytes:
    return messages.sign_grant(
        record=record_id,
        target=target.id,
        recipient=target.recipient,
        author=granter.id,
        signing_key=granter.signing_key,
    )


def header_for(seeded: Seeded, target: Staff) -> bytes:
    """What a holder's client uploads to grant `target`: the file key re-wrapped."""
    return age.make_header(seeded.file_key, [target.recipient])


def log_entries(engine: Engine, start: int = 0) -> list[audit.Event]:
    with session_scope(engine, readonly=True) as session:
        stored = audit.entries(session, start=start, end=audit.tree_size(session))
    return [audit.decode_event(entry) for entry in stored]


def log_size(engine: Engine) -> int:
    with session_scope(engine, readonly=True) as session:
        return audit.tree_size(session)


def headers_of(engine: Engine, record_id: str) -> dict[str, bytes]:
    """The stored headers of a record, by holder."""
    with session_scope(engine, readonly=True) as session:
        rows = session.exec(select(RecordHeader).where(RecordHeader.record_id == record_id))
        return {row.holder: bytes(row.header) for row in rows}


def race(count: int, action: Callable[[], object]) -> list[object]:
    """Run `action` in `count` threads released at once; what each returned or raised."""
    results: list[object] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        barrier.wait()
        try:
            results.append(action())
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def assert_log_honest(engine: Engine) -> None:
    """An auditor replaying the whole log finds every fetch and grant by a holder."""
    with session_scope(engine, readonly=True) as session:
        stored = audit.entries(session, start=0, end=audit.tree_size(session))
    assert check_meaning(decode_entries(stored)) == []
