"""Submitting sealed reports over HTTP: the real endpoint against a bare FastAPI one, in one run.

    .venv/bin/python -m bench.submit [--requests 300] [--clients 8] [--rounds 4]
                                     [--upload-mib 500] [--dir DIR]

1. Starts a real `tvault serve --dev` on SQLite with the default settings (WAL,
   synchronous=FULL: an fsync per commit) on a free loopback port, and sets an org up
   through the real CLI: an admin, one intake caseworker, a published roster. Beside it, in
   its own process under the same uvicorn settings, a bare FastAPI endpoint that validates
   the same JSON body with an equivalent pydantic model and answers 201 (`bare_app`).
2. Before each round, untimed, makes `--requests` submissions as a source's client would:
   a 4 KiB report (report/v1, Korean, padded) sealed to the roster's intake recipients,
   its payload commitment and a lookup hash, and a fresh proof-of-work token fetched from
   `POST /v1/tokens` and solved (solving is the client's work, not the server's). Then
   the same load generator (`--clients` threads, one keep-alive httpx client each) sends
   them to ours, as the one-request small-report path (`POST /v1/submissions` with the
   payload inline, docs/submissions.md), and the identical bodies to bare. The rounds
   alternate which side goes first. Every answer must be 201; ours must grow the log by
   one entry per submission. Each round also prints each server's CPU time per request
   (from /proc/<pid>/stat), the cost the ratio alone hides when the load generator, not
   the server, limits a side.
3. Uploads one `--upload-mib` MiB attachment (with its report) through the chunked path
   (create, PUT chunks, complete) and prints the server process's peak resident memory,
   VmHWM from /proc/<pid>/status. Goal: <= 128 MiB.

The last line is `submit: ours=<req/s> bare=<req/s> ratio=R`, medians over the rounds,
R = ours / bare. Goal: R >= 0.5. Everything it writes goes into one temporary directory,
deleted at the end.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

import httpx
import pyotp
import uvicorn
from fastapi import FastAPI, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.app import TELEMETRY_OFF
from api.server import GRACEFUL_SHUTDOWN_SECONDS, KEEP_ALIVE_SECONDS
from api.timeouts import timed_protocol
from bench._api_appends import _free_port, _tree_size, _wait_until_up
from bench.seal import _positive, _vm_hwm_kib
from crypto import age, commitment, envelope, roster
from crypto.codename import lookup_hash
from crypto.pow import solve
from vault.report import Report, encode_report, template
from vault.settings import Settings

MIB = 1024 * 1024
REPORT_BYTES = 4096
GOAL_RATIO = 0.5
GOAL_PEAK_MIB = 128
TVAULT = Path(sys.executable).with_name("tvault")
REPO_ROOT = Path(__file__).resolve().parent.parent
RECOVERY_HOLDER = "recovery-recipient"
_PASSWORD = "bench password, not a secret"
_PASSPHRASE = "bench passphrase, not a secret"


# -- the peer: a bare endpoint taking the same body ------------------------------------------

_B64 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]*={0,2}$")]
_HEX32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_ID = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BareRecord(_Strict):
    kind: Literal["report", "attachment"]
    size: int = Field(ge=1, le=512 * MIB)
    payload: _B64 | None = Field(default=None, max_length=2 * MIB)
    commitment: _HEX32 | None = None
    headers: dict[_ID, Annotated[_B64, Field(max_length=8192)]] | None = Field(
        default=None, max_length=64
    )


class BarePow(_Strict):
    token: str = Field(max_length=100)
    counter: int = Field(ge=0, lt=1 << 64)


class BareSubmission(_Strict):
    records: list[BareRecord] = Field(min_length=1, max_length=21)
    pow: BarePow
    lookup_hash: _HEX32 | None = None


class BareCreated(BaseModel):
    id: str


def bare_app() -> FastAPI:
    """The peer: `POST /v1/submissions` validates the body, stores nothing, answers 201."""
    # FastAPI's telemetry is off, as in ours (`api.app.TELEMETRY_OFF`).
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, telemetry=TELEMETRY_OFF)

    @app.get("/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/submissions", status_code=status.HTTP_201_CREATED)
    async def submit(body: BareSubmission) -> BareCreated:
        # An async handler, like ours: neither hands the request to a worker thread.
        return BareCreated(id="0" * 26)

    return app


def serve_bare(port: int) -> None:
    """Serve `bare_app` with the uvicorn settings of `api.server.run` under --dev.

    They are repeated here, not shared: keep the two in step when either changes.
    """
    config = uvicorn.Config(
        bare_app(),
        host="127.0.0.1",
        port=port,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        http=timed_protocol(Settings.model_fields["slow_client_seconds"].default),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_level="debug",
    )
    uvicorn.Server(config).run()


# -- the servers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Running:
    process: subprocess.Popen[bytes]
    base_url: str
    output: Path

    def peak_rss_kib(self) -> int:
        return _vm_hwm_kib(Path(f"/proc/{self.process.pid}/status"))

    def cpu_seconds(self) -> float:
        """The server process's CPU time so far (user + system, all its threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _started(argv: list[str], output: Path, env: dict[str, str]) -> Iterator[Running]:
    port = _free_port()
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*argv, "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
            env={**os.environ, **env},
        )
    running = Running(process, f"http://127.0.0.1:{port}", output)
    try:
        with httpx.Client(base_url=running.base_url, timeout=30) as client:
            _wait_until_up(client, process)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ours(directory: Path) -> AbstractContextManager[Running]:
    argv = [str(TVAULT), "serve", "--dev", "--data-dir", str(directory / "data")]
    return _started([*argv, "--host", "127.0.0.1"], directory / "server.log", _OURS_ENV)


_OURS_ENV = {
    # The weak test KDF profile makes the org's set-up quick; a submission pays no KDF cost.
    "TVAULT_KDF_PROFILE": "test",
    # The anonymous routes' global rate limit (default 50/s, bursts of 200) is lifted: it
    # is a policy cap, and the bench measures what the endpoint itself can take.
    "TVAULT_ANONYMOUS_RATE": "1000000",
    "TVAULT_ANONYMOUS_BURST": "1000000",
}


def _bare(directory: Path) -> AbstractContextManager[Running]:
    argv = [sys.executable, "-m", "bench.submit", "--serve-bare"]
    return _started(argv, directory / "bare.log", {})


# -- the org, set up through the real CLI ----------------------------------------------------


def _cli(home: Path, *args: str, **env: str) -> Any:
    """Run `tvault ARGS --home HOME --json`; its JSON output, or exit saying what failed."""
    result = subprocess.run(
        [str(TVAULT), *args, "--home", str(home), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "TVAULT_PASSPHRASE": _PASSPHRASE, **env},
    )
    if result.returncode != 0:
        raise SystemExit(f"tvault {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def set_up_org(server: Running, work: Path) -> str:
    """An org with an admin, one intake caseworker and a published roster; its fingerprint."""
    code = _BOOTSTRAP.search(server.output.read_text())
    if code is None:
        raise SystemExit("tvault serve printed no bootstrap code")
    base, admin = server.base_url, work / "admin"
    created = _cli(
        admin, "org", "init", "--server", base, "--dev", "--org-name", "Bench Org",
        "--admin", "root", "--bootstrap-code", code.group(1), TVAULT_PASSWORD=_PASSWORD,
    )  # fmt: skip
    org = created["fingerprint"]
    _cli(
        admin, "login", "--server", base, "--org", org, "--user", "root",
        TVAULT_PASSWORD=_PASSWORD, TVAULT_TOTP=pyotp.TOTP(created["totp_secret"]).now(),
    )  # fmt: skip
    enrolment = _cli(admin, "user", "add", "in1", "--role", "intake")["enrolment_code"]
    _cli(
        work / "in1", "enroll", "--server", base, "--org", org, "--user", "in1",
        "--code", enrolment, "--dev", TVAULT_PASSWORD=_PASSWORD,
    )  # fmt: skip
    _cli(admin, "roster", "publish", "--yes")
    return str(org)


_BOOTSTRAP = re.compile(r"one-time bootstrap code: ([A-Z2-7-]+)")


# -- the source's side: sealing, untimed ---------------------------------------------------


@dataclass(frozen=True)
class Holders:
    """Who a record is sealed to: holder id -> age recipient, from the verified roster."""

    recipients: dict[str, str]

    @classmethod
    def of_org(cls, client: httpx.Client, fingerprint: str) -> Holders:
        """The intake recipients (and recovery) of the roster the org key signed."""
        body = client.get("/v1/org").raise_for_status().json()
        public_key = base64.b64decode(body["public_key"])
        if roster.fingerprint(public_key) != roster.normalise_fingerprint(fingerprint):
            raise SystemExit("the server's org key is not the org set up")
        opened = roster.open_roster(
            body["roster"].encode("utf-8"), org_public_key=public_key, kind="public"
        )
        recipients = {m["id"]: m["recipient"] for m in opened.members}
        if recovery := opened.policy.get("recovery_recipient"):
            recipients[RECOVERY_HOLDER] = recovery
        return cls(recipients)

    def seal(self, src: BinaryIO, dst: BinaryIO) -> tuple[str, dict[str, str]]:
        """Seal `src` into `dst` (`dst` readable); its commitment (hex) and its headers."""
        start = dst.tell()
        sealed = age.seal(src, dst, list(self.recipients.values()))
        dst.seek(start)
        digest = commitment.PayloadHasher.of_stream(dst).digest()
        by_recipient = {r: base64.b64encode(h).decode("ascii") for r, h in sealed.headers.items()}
        headers = {holder: by_recipient[r] for holder, r in self.recipients.items()}
        return commitment.commit(file_key=sealed.file_key, payload_sha256=digest).hex(), headers


def report_plaintext(attachments: Sequence[str] = ()) -> bytes:
    """A valid Korean report/v1 with its reply block, padded to exactly 4 KiB."""
    document = json.loads(template("ko"))
    document["reply"] = {
        "recipient": age.recipient_of(age.generate_identity("pq")),
        "followup_mac_check": os.urandom(32).hex(),
    }
    if attachments:
        document["attachments"] = [{"record": rid} for rid in attachments]
    filler = "가족이 마지막으로 연락한 날과 그 뒤에 들은 소식을 적습니다. "
    narrative = document["narrative"]
    while True:
        document["narrative"] = narrative
        doc = encode_report(Report.model_validate(document))
        if envelope.report_size(len(doc) + len(filler.encode())) > REPORT_BYTES:
            break
        narrative += filler
    plaintext = envelope.seal_report_plaintext(doc)
    assert len(plaintext) == REPORT_BYTES, len(plaintext)
    return plaintext


def _binding(records: list[dict[str, Any]]) -> bytes:
    """What the proof of work is bound to: SHA-256 of the records sent (docs/submissions.md)."""
    return hashlib.sha256(roster.canonical_json(records)).digest()


def _solved(client: httpx.Client, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A fresh token from the server, solved for `records`: the `pow` member of a body."""
    token = client.post("/v1/tokens").raise_for_status().json()["token"]
    return {"token": token, "counter": solve(token, binding=_binding(records))}


def small_submission(client: httpx.Client, holders: Holders) -> bytes:
    """One request's body: a 4 KiB report sealed inline, with its solved proof of work."""
    payload = io.BytesIO()
    sealed_commitment, headers = holders.seal(io.BytesIO(report_plaintext()), payload)
    record = {
        "kind": "report",
        "size": len(payload.getvalue()),
        "payload": base64.b64encode(payload.getvalue()).decode("ascii"),
        "commitment": sealed_commitment,
        "headers": headers,
    }
    body = {
        "records": [record],
        "pow": _solved(client, [record]),
        "lookup_hash": lookup_hash(os.urandom(32)).hex(),
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


# -- the load generator ----------------------------------------------------------------------


def send_all(base_url: str, bodies: Sequence[bytes], *, clients: int) -> float:
    """POST every body to `base_url`/v1/submissions from `clients` threads; requests/s.

    Each thread keeps one httpx client (one keep-alive connection); every answer must be
    201, or the run stops saying what came back.
    """
    local = threading.local()
    opened: list[httpx.Client] = []
    lock = threading.Lock()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, timeout=60)
            with lock:
                opened.append(local.client)
        c: httpx.Client = local.client
        return c

    def one(body: bytes) -> None:
        response = client().post(
            "/v1/submissions", content=body, headers={"content-type": "application/json"}
        )
        if response.status_code != status.HTTP_201_CREATED:
            raise SystemExit(f"{base_url} answered {response.status_code}: {response.text}")

    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(one, bodies[:clients]))  # connect every client, untimed
            start = time.perf_counter()
            list(pool.map(one, bodies[clients:]))
            elapsed = time.perf_counter() - start
    finally:
        for c in opened:
            c.close()
    return (len(bodies) - clients) / elapsed


# -- one large attachment through the chunked path -------------------------------------------


class _RandomBytes(io.RawIOBase):
    """`size` random bytes: an attachment no layer below can compress."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")[: self._left]
        view[:] = os.urandom(len(view))
        self._left -= len(view)
        return len(view)


def _sealed_attachment(holders: Holders, size: int, work: Path) -> tuple[Path, str, dict[str, str]]:
    """Seal `size` random bytes, in the tar envelope, into a payload file under `work`."""
    tar, payload = work / "attachment.tar", work / "attachment.age"
    with tar.open("wb") as dst:
        envelope.write_attachment(
            io.BufferedReader(_RandomBytes(size), MIB), dst, name="영상.mp4", size=size
        )
    with tar.open("rb") as src, payload.open("w+b") as dst:
        sealed_commitment, headers = holders.seal(src, dst)
    tar.unlink()
    return payload, sealed_commitment, headers


def upload_attachment(server: Running, holders: Holders, size: int, work: Path) -> None:
    """Submit a report with one `size`-byte attachment: create, PUT chunks, complete."""
    payload, attachment_commitment, attachment_headers = _sealed_attachment(holders, size, work)
    report_size = REPORT_BYTES + 32  # the STREAM nonce and one chunk's tag
    with httpx.Client(base_url=server.base_url, timeout=300) as client:
        records = [
            {"kind": "report", "size": report_size},
            {"kind": "attachment", "size": payload.stat().st_size},
        ]
        created = client.post(
            "/v1/submissions", json={"records": records, "pow": _solved(client, records)}
        )
        if created.status_code != status.HTTP_201_CREATED:
            raise SystemExit(f"creating the submission: {created.status_code} {created.text}")
        submission, chunk_bytes = created.json()["id"], created.json()["chunk_bytes"]
        report_id, attachment_id = (r["id"] for r in created.json()["records"])
        report = io.BytesIO()
        report_commitment, report_headers = holders.seal(
            io.BytesIO(report_plaintext([attachment_id])), report
        )
        assert len(report.getvalue()) == report_size
        for rid, path_or_bytes in ((report_id, report.getvalue()), (attachment_id, payload)):
            _put_chunks(client, f"/v1/submissions/{submission}/records/{rid}", path_or_bytes,
                        chunk_bytes)  # fmt: skip
        done = client.post(
            f"/v1/submissions/{submission}/complete",
            json={
                "records": [
                    {"id": report_id, "commitment": report_commitment, "headers": report_headers},
                    {
                        "id": attachment_id,
                        "commitment": attachment_commitment,
                        "headers": attachment_headers,
                    },
                ],
                "lookup_hash": lookup_hash(os.urandom(32)).hex(),
            },
        )
        if done.status_code != status.HTTP_200_OK:
            raise SystemExit(f"completing the submission: {done.status_code} {done.text}")
    payload.unlink()


def _put_chunks(client: httpx.Client, url: str, payload: bytes | Path, chunk_bytes: int) -> None:
    with io.BytesIO(payload) if isinstance(payload, bytes) else payload.open("rb") as src:
        offset = 0
        while chunk := src.read(chunk_bytes):
            response = client.put(
                f"{url}/payload",
                params={"offset": offset},
                content=chunk,
                headers={"content-type": "application/octet-stream"},
            )
            if response.status_code != status.HTTP_200_OK:
                raise SystemExit(f"uploading at {offset}: {response.status_code} {response.text}")
            offset += len(chunk)


# -- the run ---------------------------------------------------------------------------------


def run(*, requests: int, clients: int, rounds: int, upload_mib: int, directory: Path) -> float:
    work = Path(tempfile.mkdtemp(prefix="tvault-bench-submit-", dir=directory))
    try:
        with _ours(work) as ours, _bare(work) as bare:
            org = set_up_org(ours, work)
            source = httpx.Client(base_url=ours.base_url, timeout=60)
            holders = Holders.of_org(source, org)
            at_rest = ours.peak_rss_kib()
            print(
                f"ours: tvault serve --dev on SQLite (pid {ours.process.pid}); "
                f"bare: FastAPI + pydantic (pid {bare.process.pid}); "
                f"{requests} reports of {REPORT_BYTES} bytes per round from {clients} clients, "
                f"sealed to {len(holders.recipients)} holder(s); anonymous rate limit lifted",
                flush=True,
            )
            rates: dict[str, list[float]] = {"ours": [], "bare": []}
            cpu_ms: dict[str, list[float]] = {"ours": [], "bare": []}
            for r in range(rounds):
                # Built just before the round: tokens live ten minutes.
                bodies = [small_submission(source, holders) for _ in range(requests + clients)]
                order = [("ours", ours), ("bare", bare)]
                line = []
                for name, side in order if r % 2 == 0 else order[::-1]:
                    before = _tree_size(source) if name == "ours" else 0
                    cpu = side.cpu_seconds()
                    rate = send_all(side.base_url, bodies, clients=clients)
                    cpu_ms[name].append(1000 * (side.cpu_seconds() - cpu) / len(bodies))
                    if name == "ours" and _tree_size(source) - before != len(bodies):
                        raise SystemExit("ours did not log one entry per submission")
                    rates[name].append(rate)
                    line.append(f"{name} {rate:7.1f} req/s ({cpu_ms[name][-1]:.2f} ms CPU/req)")
                print(f"round {r + 1}/{rounds}: " + ", ".join(line), flush=True)
            source.close()
            ours_rate = statistics.median(rates["ours"])
            bare_rate = statistics.median(rates["bare"])

            before = ours.peak_rss_kib()
            start = time.perf_counter()
            upload_attachment(ours, holders, upload_mib * MIB, work)
            seconds = time.perf_counter() - start
            peak = ours.peak_rss_kib()
            bare_peak = bare.peak_rss_kib()
            goal = "met" if peak <= GOAL_PEAK_MIB * 1024 else "NOT met"
            print(
                f"upload of a {upload_mib} MiB attachment (sealed, in chunks): {seconds:.1f} s "
                f"including sealing; server peak memory {peak / 1024:.1f} MiB "
                f"(after start-up and org set-up {at_rest / 1024:.1f} MiB, after the "
                f"submissions {before / 1024:.1f} MiB; goal <= {GOAL_PEAK_MIB} MiB: {goal})"
            )
            # bench.submit imports api (for the uvicorn settings), so the bare process holds
            # the same libraries: its peak is roughly what ours costs before any request.
            print(f"(the bare process, same imports, for scale: peak {bare_peak / 1024:.1f} MiB)")
        ratio = ours_rate / bare_rate
        print(f"median over {rounds} rounds: ours {ours_rate:.1f} req/s, bare {bare_rate:.1f} "
              f"req/s (goal ratio >= {GOAL_RATIO})")  # fmt: skip
        # The server's own cost, whatever the load generator can send: the bare endpoint is
        # usually limited by the load generator's CPU, ours by its own.
        print(f"server CPU per request (median): ours {statistics.median(cpu_ms['ours']):.2f} "
              f"ms, bare {statistics.median(cpu_ms['bare']):.2f} ms")  # fmt: skip
        print(f"submit: ours={ours_rate:.1f} bare={bare_rate:.1f} ratio={ratio:.2f}")
        return ratio
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.submit", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=_positive, default=300, help="per side and round")
    parser.add_argument("--clients", type=_positive, default=8, help="concurrent clients")
    parser.add_argument("--rounds", type=_positive, default=4, help="alternating (default 4)")
    parser.add_argument("--upload-mib", type=_positive, default=500, help="attachment size")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.port)
        return 0
    run(
        requests=args.requests,
        clients=args.clients,
        rounds=args.rounds,
        upload_mib=args.upload_mib,
        directory=args.dir,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
