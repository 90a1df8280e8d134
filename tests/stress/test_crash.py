"""Crash safety, through the real CLIs against the real `tvault serve --dev`, on SQLite and
on PostgreSQL.

Several sources submit reports (a few attachments each, several 64 KiB chunks for some)
with `tvault submit` while the server is killed with SIGKILL at random moments and started
again on the same data dir and database. A source whose run failed runs it again, resuming
with the codename it was shown. Afterwards the vault holds exactly the acknowledged
submissions (no more: nothing staged or cut short is a record), each whole and opening with
`tvault open` to what was sent, and the auditor's `tvault audit verify` passes.

`TVAULT_STRESS=full` (what `make stress` sets) kills more often with more sources.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.support import INTAKE
from tests.stress.harness import (
    acknowledged,
    check_opens,
    engine_of,
    finish,
    holdings,
    profile,
    record_ids,
    staged,
    start_sources,
    wait_for_acknowledgements,
)

PROFILE = profile()


@pytest.mark.timeout(PROFILE.timeout)
def test_acknowledged_submissions_survive_sigkill(tmp_path: Path, db_url: str) -> None:
    began = time.monotonic()
    rng = random.Random()
    with staged(tmp_path, db_url) as stage:
        server = stage.server
        sources, stopping = start_sources(stage, PROFILE.sources)
        try:
            for _ in range(PROFILE.kills):
                # Each server lives until it acknowledged something, then a random while.
                wait_for_acknowledgements(sources, len(acknowledged(sources)) + 1)
                time.sleep(rng.uniform(0, PROFILE.spread))
                server.kill()
                time.sleep(rng.uniform(0, 0.5))
                server.start()
        finally:
            sent = finish(sources, stopping)

        held = holdings(db_url)
        # Exactly the acknowledged records are complete: every source finished every
        # report it began, so a record nobody was told about would be one too many.
        assert held.completed == record_ids(sent)
        listed = {item["id"] for item in stage.cli.json("inbox", home=INTAKE)}
        assert listed == record_ids(sent)
        check_opens(stage.org, sent)
        verified = stage.org.audit_verify()

    acked_before_a_kill = [s for s in sent if s.kills_before < server.kills]
    print(
        f"\nstress[{PROFILE.name}, {engine_of(db_url)}] crash: {server.kills} SIGKILLs, "
        f"{len(sent)} submissions acknowledged ({len(acked_before_a_kill)} before the last kill, "
        f"{len(record_ids(sent))} records), {sum(s.failed_runs for s in sources)} failed runs "
        f"resumed, {held.staged_submissions} staged left, log of {verified['tree_size']} "
        f"entries verified, {time.monotonic() - began:.0f} s",
        file=sys.stderr,
    )
    assert server.kills == PROFILE.kills
    assert acked_before_a_kill, "nothing was acknowledged before a kill"
