"""Instructions per submission, counted by callgrind: ours against the bare endpoint.

    .venv/bin/python -m bench.instructions [--requests 200] [--clients 8] [--dir DIR]

`bench.submit` measures requests a second, and on a shared VM those swing by up to 40%
within minutes, so a change worth 2% cannot be seen in them. Instructions executed do not
swing: this bench runs ours (`tvault serve --dev` on SQLite, as `bench.submit` does) and
the same bare FastAPI peer, each under valgrind's callgrind with instrumentation off until
the load starts, sends both the same kind of sealed 4 KiB reports from the same load
generator, and prints each server's instructions per request, all threads counted. Two
runs of the same code agree within about 1%, so it shows what a change saves.

It does not replace `bench.submit`. Under valgrind a server runs some 50 times slower, so
every client waits on it at once and ours commits its reports in full batches (one per
client), where natively it commits about three at a time: the cost of a batch (its
transaction, its checkpoint signature) weighs less here than in real time. Ours also
reports the share of its event-loop thread (thread 1); its other threads are nearly all
the committer (the worker threads have little to do during the load).

The last line is `instructions: ours=<M> bare=<M> ratio=R`, millions of instructions per
request and R = bare / ours (what `bench.submit`'s ratio would be if both were CPU-bound
on one core and every instruction cost the same). Needs valgrind (Debian's package).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import httpx

from bench.seal import _positive
from bench.submit import (
    _OURS_ENV,
    TVAULT,
    Holders,
    Running,
    _started,
    send_all,
    set_up_org,
    small_submission,
)

#: Each dump takes a moment to be written after callgrind_control returns.
_DUMP_WAIT_SECONDS = 30


def callgrind_totals(paths: Iterable[Path]) -> dict[str, int]:
    """The `totals:` line of each callgrind output file, by file name (0 if it has none)."""
    totals: dict[str, int] = {}
    for path in paths:
        total = 0
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.startswith("totals:"):
                    total = int(line.split()[1])
        totals[path.name] = total
    return totals


def _under_callgrind(out: Path, argv: list[str]) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out}",
        *argv,
    ]


def _control(option: str, server: Running) -> None:
    subprocess.run(
        ["callgrind_control", option, str(server.process.pid)],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _count(server: Running, out: Path, bodies: Sequence[bytes], clients: int) -> dict[str, int]:
    """Send `bodies` with instrumentation on; the instructions of each thread meanwhile."""
    _control("--instr=on", server)
    send_all(server.base_url, bodies, clients=clients)
    _control("--instr=off", server)
    _control("--dump", server)
    # A file's totals line comes last; the event loop's thread (1) always has work.
    loop = out.with_name(f"{out.name}.1-01")
    deadline = time.monotonic() + _DUMP_WAIT_SECONDS
    while not (loop.exists() and callgrind_totals([loop])[loop.name]):
        if time.monotonic() > deadline:
            raise SystemExit(f"callgrind wrote no dump for pid {server.process.pid}")
        time.sleep(0.2)
    time.sleep(1)  # the other threads' files are written after the first
    return callgrind_totals(sorted(out.parent.glob(f"{out.name}.1-*")))


def run(*, requests: int, clients: int, directory: Path) -> float:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("bench.instructions needs valgrind (apt-get install valgrind)")
    work = Path(tempfile.mkdtemp(prefix="tvault-bench-instructions-", dir=directory))
    try:
        ours_out, bare_out = work / "ours.callgrind", work / "bare.callgrind"
        ours_argv = [sys.executable, str(TVAULT), "serve", "--dev", "--host", "127.0.0.1"]
        ours_argv += ["--data-dir", str(work / "data")]
        bare_argv = [sys.executable, "-m", "bench.submit", "--serve-bare"]
        with (
            _started(_under_callgrind(ours_out, ours_argv), work / "server.log", _OURS_ENV) as ours,
            _started(_under_callgrind(bare_out, bare_argv), work / "bare.log", {}) as bare,
        ):
            org = set_up_org(ours, work)
            with httpx.Client(base_url=ours.base_url, timeout=600) as source:
                holders = Holders.of_org(source, org)

                def bodies(count: int) -> list[bytes]:
                    return [small_submission(source, holders) for _ in range(count)]

                print(
                    f"ours: tvault serve --dev on SQLite, bare: FastAPI + pydantic, both under "
                    f"callgrind; {requests} reports of 4 KiB from {clients} clients each",
                    flush=True,
                )
                # Untimed and uncounted: every code path run once, every client connected.
                send_all(ours.base_url, bodies(4 * clients), clients=clients)
                send_all(bare.base_url, bodies(4 * clients), clients=clients)
                ours_threads = _count(ours, ours_out, bodies(requests + clients), clients)
                bare_threads = _count(bare, bare_out, bodies(requests + clients), clients)
        count = requests + clients
        ours_total = sum(ours_threads.values()) / count / 1e6
        bare_total = sum(bare_threads.values()) / count / 1e6
        loop = ours_threads[f"{ours_out.name}.1-01"] / count / 1e6
        print(
            f"ours: {ours_total:.3f} M instructions per request "
            f"(event loop {loop:.3f} M, other threads {ours_total - loop:.3f} M)"
        )
        print(f"bare: {bare_total:.3f} M instructions per request")
        ratio = bare_total / ours_total
        print(f"instructions: ours={ours_total:.3f} bare={bare_total:.3f} ratio={ratio:.2f}")
        return ratio
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--requests", type=_positive, default=200)
    parser.add_argument("--clients", type=_positive, default=8)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    run(requests=args.requests, clients=args.clients, directory=args.dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
