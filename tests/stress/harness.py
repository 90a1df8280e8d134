"""What the stress tests share: a server that can be killed and started again on one port,
sources that submit through the real `tvault submit` until told to stop, and the check that
the vault holds exactly what was acknowledged, whole.

`TVAULT_STRESS` chooses the profile (docs/stress.md): unset or ``short`` is the version the
normal suite runs (few sources, at least one kill per engine); ``full`` is what
`make stress` runs (more sources, more kills, longer).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.api.conftest import RunningServer, free_port
from tests.e2e.support import INTAKE, TVAULT, Cli, StaffedOrg, database, set_up_staff
from vault.report import parse_report

STRESS_VARIABLE = "TVAULT_STRESS"
#: Small chunks, so an attachment of a few hundred KiB takes several requests and a kill
#: can land in the middle of one.
CHUNK_BYTES = 64 * 1024
#: Seconds a source keeps running `tvault submit` again for one report (each run already
#: retries a dropped connection 8 times) before it gives up: a restart on a loaded machine
#: can take a minute or more.
PATIENCE = 600
#: Seconds a start of the server may take before the test fails; generous, since the tests
#: never assert timings, but a server stuck for good must fail (with its stacks in the log).
START_DEADLINE = 300
_CODENAME = re.compile(r"write it down now; you need it to see replies\):\s*\n\s*\n\s*(\S[^\n]*)")


@dataclass(frozen=True)
class Profile:
    """How hard a stress test pushes."""

    name: str
    #: Concurrent `tvault submit` loops.
    sources: int
    #: SIGKILLs of the server in the crash test.
    kills: int
    #: A server lives until a new acknowledgement since its start, then up to this many
    #: seconds more (uniformly at random) before it is killed.
    spread: float
    #: Acknowledgements before the backup is taken, and again after it.
    backup_acks: int
    #: The per-test timeout, in seconds.
    timeout: int


SHORT = Profile("short", sources=2, kills=2, spread=2.0, backup_acks=1, timeout=900)
FULL = Profile("full", sources=6, kills=8, spread=8.0, backup_acks=8, timeout=3600)


def profile() -> Profile:
    """The profile `TVAULT_STRESS` names: ``short`` (the default) or ``full``."""
    value = os.environ.get(STRESS_VARIABLE, "short").strip().lower() or "short"
    profiles = {p.name: p for p in (SHORT, FULL)}
    if value not in profiles:
        raise pytest.UsageError(f"{STRESS_VARIABLE}={value!r}: use short or full")
    return profiles[value]


def server_environment(db_url: str) -> dict[str, str]:
    """What a stress server runs with: its database, the test KDF profile, small chunks."""
    return {
        "TVAULT_DATABASE_URL": db_url,
        "TVAULT_KDF_PROFILE": "test",
        "TVAULT_MAX_CHUNK_BYTES": str(CHUNK_BYTES),
        # A start that never answers is sent SIGABRT: its threads' stacks go to the log.
        "PYTHONFAULTHANDLER": "1",
    }


class CrashableServer:
    """The real `tvault serve --dev`, on one port for its whole life, so that clients find
    it again after a SIGKILL and a restart. Output of every start is appended to one file."""

    def __init__(self, tmp_path: Path, db_url: str) -> None:
        self.data_dir = tmp_path / "data"
        self.db_url = db_url
        self.output = tmp_path / "server.log"
        self.base_url = f"http://localhost:{free_port()}"
        self.kills = 0
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> RunningServer:
        assert self._process is not None, "the server was never started"
        return RunningServer(self._process, self.base_url, self.output)

    def start(self) -> None:
        port = self.base_url.rsplit(":", 1)[1]
        args = [str(TVAULT), "serve", "--dev", "--data-dir", str(self.data_dir)]
        args += ["--host", "localhost", "--port", port]
        environment = {**os.environ, **server_environment(self.db_url)}
        with self.output.open("ab") as sink:
            self._process = subprocess.Popen(
                args, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=environment,
            )  # fmt: skip
        self.starts += 1
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"tvault serve exited ({self._process.returncode}):\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self._process.send_signal(signal.SIGABRT)
        self._process.wait(timeout=30)
        pytest.fail(f"tvault serve did not answer within {START_DEADLINE} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, no transaction is finished."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            self._process.wait(timeout=30)

    def log(self) -> str:
        return self.output.read_text(errors="replace")


@dataclass(frozen=True)
class Stage:
    """A crashable server with an org on it (`set_up_staff`) and the Korean report template."""

    server: CrashableServer
    org: StaffedOrg
    template: dict[str, Any]

    @property
    def cli(self) -> Cli:
        return self.org.cli


@contextmanager
def staged(tmp_path: Path, db_url: str) -> Iterator[Stage]:
    """Start a `CrashableServer` on `db_url`, set up its org; the server stops on exit."""
    server = CrashableServer(tmp_path, db_url)
    server.start()
    try:
        cli = Cli(tmp_path, server.base_url)
        org = set_up_staff(cli, server.running, db_url)
        template = json.loads(cli.run("report", "template", "--lang", "ko", home="t").stdout)
        yield Stage(server, org, template)
    finally:
        server.stop()


@dataclass
class Sent:
    """A submission `tvault submit` acknowledged (exit 0, record id and log index printed)."""

    record_id: str
    attachments: list[str]
    log_index: int
    report: Path
    files: list[Path]
    #: Runs of `tvault submit` it took: more than one when a run failed and was resumed.
    runs: int
    #: Server kills before the acknowledgement.
    kills_before: int


class Source(threading.Thread):
    """One source's device: submits report after report (a few small attachments each)
    through the real CLI until `stopping` is set, then finishes the one under way.

    A run that fails is run again, with the codename it printed when it had printed one
    (the CLI then resumes the upload), as a person would.
    """

    def __init__(
        self,
        number: int,
        org: StaffedOrg,
        server: CrashableServer,
        template: dict[str, Any],
        stopping: threading.Event,
    ) -> None:
        super().__init__(name=f"source-{number}", daemon=True)
        self.number = number
        self.org = org
        self.server = server
        self.template = template
        self.stopping = stopping
        self.sent: list[Sent] = []
        #: Failed runs of `tvault submit` (each followed by a rerun).
        self.failed_runs = 0
        #: The end of what each failed run printed on stderr.
        self.failures: list[str] = []
        self.error: BaseException | None = None
        self.rng = random.Random(number)
        self.folder = org.tmp_path / f"source-{number}-files"
        self.folder.mkdir()
        self.home = org.tmp_path / f"source-{number}"

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.sent.append(self._submit(len(self.sent)))
        except BaseException as exc:  # reported by the test thread, which joins
            self.error = exc

    def _submit(self, n: int) -> Sent:
        report, files = self._write(n)
        args = [str(TVAULT), *self.org.submit_args(report, *files), "--json"]
        args += ["--home", str(self.home)]
        codename: str | None = None
        outputs: list[str] = []
        give_up = time.monotonic() + PATIENCE
        run = 0
        while True:
            run += 1
            environment = dict(os.environ)
            if codename is not None:
                environment["TVAULT_CODENAME"] = codename
            kills_before = self.server.kills
            result = subprocess.run(
                args, capture_output=True, text=True, timeout=600, check=False,
                env=environment, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            if result.returncode == 0:
                printed = json.loads(result.stdout)
                return Sent(
                    printed["record_id"], printed["attachments"], printed["log_index"],
                    report, files, run, kills_before,
                )  # fmt: skip
            self.failed_runs += 1
            outputs.append(result.stderr[-2000:])
            self.failures.append(outputs[-1])
            found = _CODENAME.search(result.stderr)
            codename = codename or (found.group(1).strip() if found else None)
            if time.monotonic() > give_up:
                tried = "\n".join(outputs[-5:])
                raise AssertionError(f"source {self.number} gave up on {report.name}:\n{tried}")
            time.sleep(min(0.5 * 2**run, 8))  # a person waits a little before trying again

    def _write(self, n: int) -> tuple[Path, list[Path]]:
        tag = f"{self.number}-{n}"
        narrative = f"스트레스 시험 {tag}: 2024년 5월 체포, {self.rng.getrandbits(64):x}"
        report = self.folder / f"report-{tag}.json"
        report.write_text(json.dumps({**self.template, "narrative": narrative}, ensure_ascii=False))
        files = []
        for k in range(self.rng.randrange(3)):
            small, several_chunks = (
                self.rng.randrange(1, 20_000),
                self.rng.randrange(2 * CHUNK_BYTES, 300_000),
            )
            size = self.rng.choice((small, several_chunks))
            path = self.folder / f"attachment-{tag}-{k}.bin"
            path.write_bytes(self.rng.randbytes(size))
            files.append(path)
        return report, files


def start_sources(stage: Stage, count: int) -> tuple[list[Source], threading.Event]:
    """`count` sources submitting to `stage`'s org; set the event (`finish`) to stop them."""
    stopping = threading.Event()
    sources = [Source(i, stage.org, stage.server, stage.template, stopping) for i in range(count)]
    for source in sources:
        source.start()
    return sources, stopping


def acknowledged(sources: list[Source]) -> list[Sent]:
    return [sent for source in sources for sent in list(source.sent)]


def wait_for_acknowledgements(sources: list[Source], count: int, timeout: float = 300) -> None:
    """Until at least `count` submissions in all were acknowledged; fails on a source's error."""
    deadline = time.monotonic() + timeout
    while len(acknowledged(sources)) < count:
        for source in sources:
            if source.error is not None:
                raise source.error
        if time.monotonic() > deadline:
            pytest.fail(f"fewer than {count} submissions acknowledged within {timeout} s")
        time.sleep(0.1)


def finish(sources: list[Source], stopping: threading.Event) -> list[Sent]:
    """Let each source finish the submission under way; every acknowledgement, or the error."""
    stopping.set()
    for source in sources:
        source.join(timeout=900)
        assert not source.is_alive(), f"source {source.number} did not finish"
        if source.error is not None:
            raise source.error
    return acknowledged(sources)


# --- what the vault holds --------------------------------------------------------------

_PARTIAL = """
SELECT r.id FROM record r
LEFT JOIN (SELECT record_id, SUM(LENGTH(data)) AS n FROM payload_chunk GROUP BY record_id) c
  ON c.record_id = r.id
JOIN submission s ON s.id = r.submission_id
WHERE r.completed AND (r.received <> r.size OR COALESCE(c.n, 0) <> r.size OR s.staged
      OR r.log_index IS NULL OR r.commitment IS NULL)
"""


@dataclass(frozen=True)
class Holdings:
    """Completed and staged records in the database."""

    completed: set[str]
    staged_submissions: int


def holdings(db_url: str) -> Holdings:
    """What the database holds; fails if a completed record is partial in any way (payload
    shorter than its size, its submission still staged, no log index or commitment)."""
    engine = database(db_url)
    try:
        with engine.connect() as connection:
            partial = connection.execute(sa.text(_PARTIAL)).scalars().all()
            assert partial == [], f"completed records that are not whole: {partial}"
            completed = connection.execute(sa.text("SELECT id FROM record WHERE completed"))
            staged = connection.execute(sa.text("SELECT COUNT(*) FROM submission WHERE staged"))
            return Holdings(set(completed.scalars()), int(staged.scalar_one()))
    finally:
        engine.dispose()


def engine_of(db_url: str) -> str:
    """``sqlite`` or ``postgresql``, for the figures a test prints."""
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


def record_ids(sent: list[Sent]) -> set[str]:
    return {rid for s in sent for rid in (s.record_id, *s.attachments)}


def check_opens(org: StaffedOrg, sent: list[Sent]) -> None:
    """`tvault open` of each report by the intake caseworker gives back what the source
    sent: the report (as `parse_report` reads it, plus the blocks `submit` adds) and every
    attachment byte for byte. Two at a time: the machine has two cores."""
    out = org.tmp_path / "opened"

    def check(s: Sent) -> None:
        opened = org.cli.json("open", s.record_id, "--out", str(out / s.record_id), home=INTAKE)
        files = {rid: Path(path) for rid, path in opened["files"].items()}
        assert set(files) == {s.record_id, *s.attachments}, (s, opened)
        report = parse_report(files[s.record_id].read_bytes())
        added = {"reply": None, "attachments": None}
        assert report.model_copy(update=added) == parse_report(s.report.read_bytes())
        for rid, original in zip(s.attachments, s.files, strict=True):
            assert files[rid].read_bytes() == original.read_bytes(), (rid, original)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(check, sent))
