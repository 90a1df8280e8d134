"""Scale-out: several `tvault serve` processes on one PostgreSQL database (and one data
directory) stay correct under concurrent submissions and fetches, and keep one audit tree.

Three workers on three ports, as behind a load balancer. Sources submit through the real
`tvault submit`, each to its own worker; meanwhile the intake caseworker fetches headers
(each fetch is a log entry) from every worker in turn, and every worker is asked for its
checkpoint again and again. Afterwards: the vault holds exactly the acknowledged records,
each whole and opening to what was sent; the log is one gapless sequence holding each
acknowledged record's entry once; every checkpoint any worker signed, with the one log
key, is a prefix of the final tree (a consistency proof verifies); and `tvault audit
verify` passes, and through each other worker finds the checkpoint consistent with the
one it kept.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from crypto import note
from crypto.checkpoint import parse_checkpoint
from crypto.merkle.verify import verify_consistency
from tests.e2e.support import AUDITOR, INTAKE, Cli, database, password_of, set_up_staff, totp
from tests.e2e.test_canaries import _database_bytes, _text_forms
from tests.stress.harness import (
    CrashableServer,
    Sent,
    Source,
    check_opens,
    finish,
    holdings,
    profile,
    record_ids,
    wait_for_acknowledgements,
)
from vault import audit

WORKERS = 3
#: Acknowledged submissions to wait for: a few in the suite, more under `make stress`.
SUBMISSIONS = 3 if profile().name == "short" else 30


def _workers(tmp_path: Path, db_url: str) -> list[CrashableServer]:
    """Started one after another (the first migrates and prepares; the others find it done),
    sharing the data directory, each with its own port and log."""
    workers = []
    for n in range(WORKERS):
        worker = CrashableServer(tmp_path, db_url)
        worker.output = tmp_path / f"worker-{n}.log"
        worker.start()
        workers.append(worker)
    return workers


def _fetcher(urls: list[str], token: str, stopping: threading.Event, fetched: list[str]) -> None:
    """Fetch every listed record's header, each time through the next worker."""
    headers = {"Authorization": f"Bearer {token}"}
    turn = 0
    with httpx.Client(headers=headers, timeout=60) as http:
        while not stopping.is_set():
            listed = http.get(f"{urls[turn % WORKERS]}/v1/records")
            assert listed.status_code == 200, listed.text
            for item in listed.json():
                turn += 1
                answer = http.get(f"{urls[turn % WORKERS]}/v1/records/{item['id']}/header")
                assert answer.status_code == 200, answer.text
                fetched.append(item["id"])
            stopping.wait(0.2)


def _poller(urls: list[str], stopping: threading.Event, notes: list[bytes]) -> None:
    turn = 0
    with httpx.Client(timeout=60) as http:
        while not stopping.is_set():
            answer = http.get(f"{urls[turn % WORKERS]}/v1/log/checkpoint")
            assert answer.status_code == 200, answer.text
            notes.append(answer.content)
            turn += 1
            stopping.wait(0.1)


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)
@pytest.mark.timeout(profile().timeout)
def test_workers_sharing_postgresql_keep_one_log(tmp_path: Path, db_url: str) -> None:
    workers = _workers(tmp_path, db_url)
    urls = [w.base_url for w in workers]
    try:
        cli = Cli(tmp_path, urls[0])
        org = set_up_staff(cli, workers[0].running, db_url)
        template = json.loads(cli.run("report", "template", "--lang", "ko", home="t").stdout)
        login = {"username": INTAKE, "password": password_of(INTAKE)}
        answer = httpx.post(
            f"{urls[1]}/v1/auth/login",
            json={**login, "totp_code": totp(org.totp_secrets[INTAKE], 1)},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        token = answer.json()["token"]

        background = threading.Event()
        fetched: list[str] = []
        notes: list[bytes] = []
        helpers = [
            threading.Thread(target=_fetcher, args=(urls, token, background, fetched)),
            threading.Thread(target=_poller, args=(urls, background, notes)),
        ]
        for helper in helpers:
            helper.start()
        sources = []
        stoppings = []
        try:
            for n, worker in enumerate(workers):  # a source per worker, through it alone
                on_worker = dataclasses.replace(org, server=worker.running)
                stopping = threading.Event()
                sources.append(Source(n, on_worker, worker, template, stopping))
                stoppings.append(stopping)
                sources[-1].start()
            wait_for_acknowledgements(sources, SUBMISSIONS, timeout=600)
        finally:
            sent = [s for stopping, source in zip(stoppings, sources, strict=True)
                    for s in finish([source], stopping)]  # fmt: skip
            background.set()
            for helper in helpers:
                helper.join(120)

        held = holdings(db_url)
        assert held.completed == record_ids(sent)
        assert fetched, "no header was fetched while sources submitted"
        check_opens(org, sent)
        _one_gapless_log(db_url, sent)
        # No client address in the database under load (the canary test's search).
        dump = _database_bytes(db_url)
        assert not any(form in dump for form in _text_forms("127.0.0.1"))
        _checkpoints_are_prefixes(urls, org.db_url, notes)
        # The auditor's checks through each worker in turn, each holding the checkpoint
        # the last one saw: its session is for the first worker's URL, so through the
        # others the entries are not read, but the checkpoint and its consistency are.
        verify = ["audit", "verify", "--org", org.fingerprint]
        assert cli.json(*verify, "--server", urls[0], home=AUDITOR)["ok"] is True
        for url in urls[1:]:
            done = cli.fails(*verify, "--server", url, "--json", home=AUDITOR)
            checks = {c["check"]: c["ok"] for c in json.loads(done.stdout)["checks"]}
            assert checks == {"roster": True, "checkpoint": True, "consistency": True,
                              "entries": False}, done.stdout  # fmt: skip
    finally:
        for worker in workers:
            worker.stop()
    for worker in workers:
        assert "Traceback" not in worker.log(), worker.log()
        # Workers listen on "localhost": a numeric loopback address would be a client's.
        assert "127.0.0.1" not in worker.log(), "a client address reached a worker's output"
    print(
        f"\nscale-out: {WORKERS} workers, {len(sent)} submissions, {len(fetched)} header "
        f"fetches, {len(notes)} checkpoints polled, all consistent"
    )


def _one_gapless_log(db_url: str, sent: list[Sent]) -> None:
    engine = database(db_url)
    try:
        with engine.connect() as connection:
            indices = (
                connection.execute(sa.text("SELECT leaf_index FROM log_entry ORDER BY leaf_index"))
                .scalars()
                .all()
            )
            entries = connection.execute(sa.text("SELECT entry FROM log_entry")).scalars().all()
    finally:
        engine.dispose()
    assert list(indices) == list(range(len(indices))), "the log has a gap or a repeat"
    events = [audit.decode_event(bytes(e)) for e in entries]
    submitted = Counter(e.record for e in events if e.action is audit.Action.RECORD_SUBMITTED)
    # Each acknowledged record's entry is in the log exactly once, and nothing else is.
    assert submitted == Counter(record_ids(sent)), "a record logged twice, or never"
    assert len({s.log_index for s in sent}) == len(sent), "two submissions share an entry"


def _checkpoints_are_prefixes(urls: list[str], db_url: str, notes: list[bytes]) -> None:
    org = httpx.get(f"{urls[0]}/v1/org", timeout=60).json()
    log_key = note.parse_verifier_key(org["log_key"])
    final = httpx.get(f"{urls[2]}/v1/log/checkpoint", timeout=60).content
    last = parse_checkpoint(note.open_note(final, [log_key]).text)
    assert notes, "no checkpoint was polled"
    for message in notes:
        # Signed by the one log key, whichever worker signed it.
        checkpoint = parse_checkpoint(note.open_note(message, [log_key]).text)
        if checkpoint.tree_size == 0:
            continue
        query = f"size1={checkpoint.tree_size}&size2={last.tree_size}"
        proof = httpx.get(f"{urls[1]}/v1/log/proof/consistency?{query}", timeout=60).json()
        verify_consistency(
            size1=checkpoint.tree_size,
            size2=last.tree_size,
            proof=[base64.b64decode(h) for h in proof["hashes"]],
            root1=checkpoint.root_hash,
            root2=last.root_hash,
        )
