"""Several processes appending at once still build one tree: four on PostgreSQL (as four
API workers would), two on SQLite (which serializes writers on one file)."""

from __future__ import annotations

import itertools
import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from crypto.checkpoint import open_checkpoint
from crypto.merkle import verify_inclusion
from crypto.merkle.rfc6962 import hash_leaf
from crypto.note import Signer
from tests.vault.audit.support import DAY, memory_tree
from vault.audit import (
    Action,
    Event,
    LoggedEvent,
    append,
    append_many,
    decode_event,
    record_and_prove,
    root,
    tree_size,
)
from vault.db import create_engine, session_scope
from vault.settings import Settings, load_settings

EVENTS = 1000
TIMEOUT_S = 120
ORIGIN = "testimony-vault/race000000000000"
_SIZES = {"proven": 1, "single": 1, "batch": 4}


def _actor(worker: int) -> str:
    return f"worker-{worker}-00000000000"


def _event(worker: int, n: int) -> Event:
    return Event(action=Action.ROSTER_PUBLISHED, actor=_actor(worker), day=DAY, version=n)


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor.execute("PRAGMA synchronous = OFF")
    else:
        cursor.execute("SET synchronous_commit = off")
    cursor.close()


def _check(logged: LoggedEvent, signer: Signer) -> None:
    """What a client does with a proven entry: the checkpoint covers it, the proof holds."""
    checkpoint, _ = open_checkpoint(logged.checkpoint, origin=signer.name, log=signer.verifier)
    assert checkpoint.tree_size == logged.tree_size == logged.index + 1
    verify_inclusion(
        leaf_hash=hash_leaf(logged.entry),
        index=logged.index,
        tree_size=logged.tree_size,
        proof=logged.proof,
        root=checkpoint.root_hash,
    )


def _worker(data_dir: str, url: str, worker: int, count: int, start: Any) -> None:
    """One process with its own engine, appending `count` events as a worker's requests do.

    Any failure, a proof that does not verify included, ends it with a non-zero exit code.
    """
    signer = Signer.generate(ORIGIN)  # each its own key: this is not about the key
    settings = load_settings(data_dir=data_dir, database_url=url, dev=True, kdf_profile="test")
    engine = create_engine(settings)
    # This test is about order, not durability: without an fsync per commit, 1,000
    # one-event transactions take seconds instead of most of a minute on a shared disk.
    # Locking and visibility are the same either way.
    event.listen(engine, "connect", _no_fsync)
    try:
        start.wait(TIMEOUT_S)  # every process is up: now race
        versions = iter(range(count))
        # Proven single appends (as a fetch is logged), plain ones and batches by turns:
        # every path races, in fewer commits than one event each.
        for kind in itertools.cycle(("proven", "single", "batch")):
            batch = [_event(worker, n) for n in itertools.islice(versions, _SIZES[kind])]
            if not batch:
                break
            with session_scope(engine) as session:
                if kind == "proven":
                    logged = record_and_prove(session, batch[0], signer)
                elif kind == "single":
                    append(session, batch[0])
                else:
                    append_many(session, batch)
            if kind == "proven":
                _check(logged, signer)
    finally:
        engine.dispose()


def test_concurrent_processes_build_one_gap_free_tree(
    engine: Engine, db_settings: Settings, tmp_path: Path
) -> None:
    processes = 4 if engine.dialect.name == "postgresql" else 2
    assert db_settings.database_url is not None
    url = db_settings.database_url.get_secret_value()
    # fork: a child starts in milliseconds with everything imported; it builds its own
    # engine, so it shares no connection with this process.
    context = multiprocessing.get_context("fork")
    start = context.Barrier(processes)
    workers = [
        context.Process(
            target=_worker,
            args=(str(db_settings.data_dir), url, w, EVENTS // processes, start),
        )
        for w in range(processes)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(TIMEOUT_S)
    assert [p.exitcode for p in workers] == [0] * processes

    stored, tree = memory_tree(engine)
    with session_scope(engine, readonly=True) as session:
        assert tree_size(session) == len(stored) == EVENTS  # so indices are exactly 0..999
        assert root(session, EVENTS) == tree.root()
    events = [decode_event(entry) for entry in stored]
    for worker in range(processes):
        # Each worker's events, in the order it appended them, once each.
        mine = [event.version for event in events if event.actor == _actor(worker)]
        assert mine == list(range(EVENTS // processes))
    runs = 1 + sum(a.actor != b.actor for a, b in itertools.pairwise(events))
    print(f"{processes} processes interleaved in {runs} runs")
    if engine.dialect.name == "postgresql":
        # Waiters on the advisory lock queue in order, so the race really interleaves. A
        # SQLite writer polls for the lock and may be outrun for a while: no bound there.
        assert runs > processes, "the workers never interleaved"
