"""The audit log's speed: appends, proofs at a million entries, and full-log verification.

    .venv/bin/python -m bench.log [--entries 1000000] [--proofs 2000] [--rounds 3] [--dir DIR]

Everything runs in this process on SQLite files in a temporary directory (deleted at the
end), through the same `vault.audit` functions the server uses:

1. Appends: transactions of 100 events (`append_many`), then one event per transaction
   (`append`), each transaction committed with the vault's SQLite settings (WAL,
   synchronous=FULL: an fsync per commit). Then through the API: failed logins against a
   real `tvault serve --dev` on SQLite, each one append in its own durable transaction
   (see `bench/_api_appends.py`; submissions, which will append too, come later).
2. Proofs: a log of `--entries` entries is built once into its own file by bulk-inserting
   the rows `CompactRange` computes (the entries are canonical events), then random
   inclusion proofs at the full size are timed through `vault.audit.inclusion_proof`, one
   read-only transaction for all, each proof its two queries (size, nodes) and the fold.
3. Verification: the entries are read back once, then `verify_log` replays them against the
   signed checkpoint (its work is two SHA-256 calls per entry: the leaf hash, and on average
   one node hash) and, beside it in the same run, a plain Python loop makes the same two
   calls per entry over the same entries. The rounds alternate the two; the medians count.

The last line is `log: verify=<entries/s> sha256_loop=<entries/s> ratio=R`, R being
verify / sha256_loop. Goals: >= 5,000 appends/s batched, a proof in <= 2 ms at 10^6
entries, R >= 0.4.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from hashlib import sha256
from pathlib import Path

from bench._api_appends import bench_api_appends
from bench.seal import _positive as _at_least_one
from crypto.checkpoint import open_checkpoint
from crypto.merkle import verify_inclusion
from crypto.merkle.compact import CompactRange
from crypto.merkle.rfc6962 import hash_leaf
from crypto.note import Signer
from vault import audit
from vault.audit import Action, Event, encode_event
from vault.db import create_engine, migrate, session_scope
from vault.settings import Settings, load_settings, prepare_data_dir

BATCH = 100
DAY = date(2026, 1, 1)
ACTOR = "acct-bench-000000000001"
ORIGIN = "testimony-vault/bench00000000000"
INSERT_CHUNK = 50_000


def _settings(directory: Path) -> Settings:
    settings = load_settings(data_dir=directory)
    prepare_data_dir(settings)
    return settings


def _event(n: int) -> Event:
    return Event(action=Action.ROSTER_PUBLISHED, actor=ACTOR, day=DAY, version=n)


def bench_appends(directory: Path, *, batches: int, singles: int) -> tuple[float, float]:
    """Return appends per second in transactions of BATCH events, then of one event."""
    settings = _settings(directory)
    engine = create_engine(settings)
    try:
        migrate(settings, engine=engine)
        events = [_event(n) for n in range(batches * BATCH + singles)]
        start = time.perf_counter()
        for b in range(batches):
            with session_scope(engine) as session:
                audit.append_many(session, events[b * BATCH : (b + 1) * BATCH])
        batched = batches * BATCH / (time.perf_counter() - start)
        start = time.perf_counter()
        for event in events[batches * BATCH :]:
            with session_scope(engine) as session:
                audit.append(session, event)
        single = singles / (time.perf_counter() - start)
    finally:
        engine.dispose()
    return batched, single


def build_log(directory: Path, size: int) -> tuple[Settings, list[bytes]]:
    """A migrated SQLite log of `size` entries, inserted in bulk; returns its entries."""
    settings = _settings(directory)
    engine = create_engine(settings)
    try:
        migrate(settings, engine=engine)
        # The canonical encoding of _event(n), without the cost of encoding a million times.
        template = encode_event(_event(0)).replace(b'"version":0', b'"version":%d')
        entries = [template % n for n in range(size)]
        assert entries[size - 1] == encode_event(_event(size - 1))
        compact = CompactRange()
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            for begin in range(0, size, INSERT_CHUNK):
                entry_rows: list[tuple[int, bytes, bytes, str]] = []
                node_rows: list[tuple[int, int, bytes]] = []
                for index in range(begin, min(begin + INSERT_CHUNK, size)):
                    leaf_hash = hash_leaf(entries[index])
                    entry_rows.append((index, entries[index], leaf_hash, DAY.isoformat()))
                    node_rows.extend((n.level, n.index, n.hash) for n in compact.append(leaf_hash))
                cursor.executemany(
                    "INSERT INTO log_entry (leaf_index, entry, leaf_hash, day) VALUES (?, ?, ?, ?)",
                    entry_rows,
                )
                cursor.executemany(
                    "INSERT INTO log_node (level, node_index, hash) VALUES (?, ?, ?)", node_rows
                )
            cursor.execute("COMMIT")
        finally:
            connection.close()
    finally:
        engine.dispose()
    return settings, entries


def bench_proofs(settings: Settings, signer: Signer, *, size: int, proofs: int) -> list[float]:
    """Sign a checkpoint, time `proofs` inclusion proofs at `size`; return their seconds."""
    engine = create_engine(settings)
    rng = random.Random(6962)
    try:
        with session_scope(engine) as session:
            note = audit.sign_checkpoint(session, signer)
        checkpoint, _ = open_checkpoint(note, origin=ORIGIN, log=signer.verifier)
        assert checkpoint.tree_size == size
        times = []
        with session_scope(engine, readonly=True) as session:
            audit.inclusion_proof(session, index=0, tree_size=size)  # warm the statement cache
            for _ in range(proofs):
                index = rng.randrange(size)
                start = time.perf_counter()
                proof = audit.inclusion_proof(session, index=index, tree_size=size)
                times.append(time.perf_counter() - start)
            (entry,) = audit.entries(session, start=index, end=index + 1)
        verify_inclusion(
            leaf_hash=hash_leaf(entry),
            index=index,
            tree_size=size,
            proof=proof,
            root=checkpoint.root_hash,
        )
    finally:
        engine.dispose()
    return times


def read_log(settings: Settings) -> tuple[bytes, list[bytes], float]:
    """Return the latest signed checkpoint, every entry it covers, and the read's seconds."""
    engine = create_engine(settings)
    try:
        start = time.perf_counter()
        with session_scope(engine, readonly=True) as session:
            latest = audit.latest_checkpoint(session)
            assert latest is not None
            entries = audit.entries(session, start=0, end=latest.tree_size)
        return latest.note, entries, time.perf_counter() - start
    finally:
        engine.dispose()


def sha256_loop(entries: Sequence[bytes]) -> None:
    """The same two SHA-256 calls per entry that replaying does, and nothing else."""
    for entry in entries:
        leaf = sha256(b"\x00" + entry).digest()
        sha256(b"\x01" + leaf + leaf).digest()


def bench_verify(
    note: bytes, entries: Sequence[bytes], signer: Signer, *, rounds: int
) -> tuple[float, float]:
    """Return the median entries per second of verify_log and of the plain loop."""
    verify, loop = [], []
    for round_ in range(rounds):
        for name in ("verify", "loop") if round_ % 2 == 0 else ("loop", "verify"):
            start = time.perf_counter()
            if name == "verify":
                audit.verify_log(entries, note, origin=ORIGIN, log=signer.verifier)
                verify.append(len(entries) / (time.perf_counter() - start))
            else:
                sha256_loop(entries)
                loop.append(len(entries) / (time.perf_counter() - start))
    return statistics.median(verify), statistics.median(loop)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.log", description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=_at_least_one, default=1_000_000)
    parser.add_argument("--proofs", type=_at_least_one, default=2000)
    parser.add_argument("--batches", type=_at_least_one, default=100, help="of 100 events")
    parser.add_argument("--singles", type=_at_least_one, default=500)
    parser.add_argument("--rounds", type=_at_least_one, default=3)
    parser.add_argument("--api-requests", type=_at_least_one, default=500)
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary files go")
    args = parser.parse_args(argv)
    signer = Signer.generate(ORIGIN)
    with tempfile.TemporaryDirectory(prefix="tvault-bench-log-", dir=args.dir) as tmp:
        root = Path(tmp)
        batched, single = bench_appends(
            root / "appends", batches=args.batches, singles=args.singles
        )
        print(f"appends, {BATCH} per transaction: {batched:,.0f}/s  (goal >= 5,000/s)")
        print(f"appends, 1 per transaction:   {single:,.0f}/s  (an fsync per commit)")
        api = bench_api_appends(root / "api", requests=args.api_requests)
        print(f"appends through the API (failed logins, 1 per transaction): {api:,.0f}/s")

        start = time.perf_counter()
        settings, _ = build_log(root / "million", args.entries)
        print(f"built a log of {args.entries:,} entries in {time.perf_counter() - start:.1f} s")
        times = sorted(bench_proofs(settings, signer, size=args.entries, proofs=args.proofs))
        median, p99 = statistics.median(times), times[int(0.99 * (len(times) - 1))]
        print(
            f"inclusion proof at {args.entries:,}: median {median * 1e3:.3f} ms, "
            f"p99 {p99 * 1e3:.3f} ms, max {times[-1] * 1e3:.3f} ms over {len(times)}  "
            "(goal <= 2 ms)"
        )

        note, entries, read_s = read_log(settings)
        print(f"read {len(entries):,} entries from the database in {read_s:.2f} s")
        verify, loop = bench_verify(note, entries, signer, rounds=args.rounds)
    print(f"log: verify={verify:,.0f} sha256_loop={loop:,.0f} ratio={verify / loop:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
