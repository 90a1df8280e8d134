"""A large payload streams in bounded memory: one chunk at a time, never the whole."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

from sqlalchemy.engine import Engine

from tests.vault.records.conftest import Team
from vault.accounts.codes import random_base32, today
from vault.db import session_scope
from vault.models import PayloadChunk, Record, RecordHeader, RecordKind, Submission
from vault.records import open_payload

CHUNK = 4 * 1024 * 1024
CHUNKS = 12  # 48 MiB


def _large_record(engine: Engine, holder: str) -> tuple[str, bytes]:
    """A record of CHUNKS random chunks; returns its id and the payload's SHA-256."""
    record_id, digest = random_base32(16), hashlib.sha256()
    with session_scope(engine) as session:
        submission = Submission(
            id=random_base32(16), staged=False, expires_on=today(), created_on=today()
        )
        session.add(submission)
        session.flush()
        session.add(
            Record(
                id=record_id,
                submission_id=submission.id,
                kind=RecordKind.ATTACHMENT,
                size=CHUNK * CHUNKS,
                received=CHUNK * CHUNKS,
                completed=True,
                log_index=0,
                created_on=today(),
            )
        )
        session.add(RecordHeader(record_id=record_id, holder=holder, header=b"h"))
    for n in range(CHUNKS):
        data = os.urandom(CHUNK)
        digest.update(data)
        with session_scope(engine) as session:
            session.add(PayloadChunk(record_id=record_id, offset=n * CHUNK, data=data))
    return record_id, digest.digest()


def test_a_large_payload_streams_one_chunk_at_a_time(engine: Engine, team: Team) -> None:
    record_id, expected = _large_record(engine, team.intake.id)
    digest, total = hashlib.sha256(), 0
    tracemalloc.start()
    try:
        stream = open_payload(engine, team.intake.account, record_id, start=CHUNK // 2)
        for chunk in stream.chunks:
            assert len(chunk) <= CHUNK
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == CHUNK * CHUNKS - CHUNK // 2
    # A few chunks' worth at most (a chunk as read, and a slice of it), never the payload.
    assert peak < 4 * CHUNK, f"peak {peak} bytes"
    whole = open_payload(engine, team.intake.account, record_id, start=0)
    for chunk in whole.chunks:
        digest.update(chunk)
    assert digest.digest() == expected
