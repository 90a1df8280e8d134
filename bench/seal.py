"""Seal and open one large file with crypto.age and with the `age` command, in one run.

    .venv/bin/python -m bench.seal [--size-mib 1024] [--rounds 4] [--dir DIR]

Each side runs as its own child process on the same input file, X25519 to the same
age-keygen identity. In each round both sides seal, then both open, back to back, and the
side that goes first alternates from round to round. Before every
timed step the page cache is made equal for both: dirty pages are flushed (`sync`), the
old output is deleted, and the step's input is read once so it is cached. A step's time is
the child's wall-clock time, start-up included, and its peak memory is the peak resident
set (VmHWM) of the child's program, so both sides are measured the same way. Ours also
seals and opens with a hybrid (mlkem768x25519) recipient, which age 1.1.1 lacks.

The last line is `seal: ours=<MB/s> age=<MB/s> ratio=R`: R is the worse of the seal and
open ratios (ours/age, median MB/s over the rounds), and the two figures are those of that
worse operation. MB is 10^6 bytes. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench._seal_worker import identity_from_file

MIB = 1024 * 1024
GOAL_PEAK_MIB = 64
REPO_ROOT = Path(__file__).resolve().parent.parent


# -- measuring one child -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    seconds: float
    user_seconds: float  # CPU in the program itself: its code, its crypto
    system_seconds: float  # CPU in the kernel for it: mostly page-cache copies
    peak_rss_kib: int
    library_seconds: float | None = None  # ours only: the library call alone

    def mb_per_s(self, size: int) -> float:
        return size / 1e6 / self.seconds


def _run_measured(argv: Sequence[str]) -> Step:
    """Run `argv` to completion: its wall time, CPU time and its program's peak memory.

    CPU time is the child's own rusage (`wait4`). The peak is VmHWM from /proc/<pid>/status,
    sampled while the child runs, not rusage's ru_maxrss: a child spawned by fork or vfork
    starts out charged with the parent's peak, so a small program such as `age` would
    report this script's size. VmHWM belongs to the address space the child's exec made,
    and it only grows, so the last sample before exit is the peak (both programs reach it
    in their first moments).
    """
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,  # both children write a line at most: the pipes never fill
        stderr=subprocess.PIPE,
    )
    status_file = Path(f"/proc/{proc.pid}/status")
    peak_kib = 0
    while True:
        peak_kib = max(peak_kib, _vm_hwm_kib(status_file))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(_SAMPLE_SECONDS)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed ({proc.returncode}): {err.decode()}")
    library = float(out) if out.strip() else None
    return Step(seconds, usage.ru_utime, usage.ru_stime, peak_kib, library)


_SAMPLE_SECONDS = 0.005


def _vm_hwm_kib(status_file: Path) -> int:
    try:
        text = status_file.read_text()
    except OSError:  # gone between poll() and here
        return 0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0  # a zombie has no address space left


def _warm(path: Path) -> None:
    """Flush dirty pages, then read `path` once so it starts every step cached."""
    os.sync()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(4 * MIB)
        while f.readinto(buf):
            pass


def _fresh(path: Path) -> None:
    """Delete a previous output, so every step writes a new file as the first one did."""
    path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(4 * MIB)
        while n := f.readinto(buf):
            digest.update(memoryview(buf)[:n])
    return digest.hexdigest()


# -- the two sides -----------------------------------------------------------------------


SRC, DST = "{src}", "{dst}"


@dataclass(frozen=True, slots=True)
class Side:
    """How one implementation seals to a recipient and opens with an identity file.

    The commands hold the placeholders SRC and DST, filled in for each step.
    """

    name: str
    seal_command: tuple[str, ...]
    open_command: tuple[str, ...]

    def seal(self, src: Path, dst: Path, *, settle: float) -> Step:
        return _step(self.seal_command, src, dst, settle=settle)

    def open(self, src: Path, dst: Path, *, settle: float) -> Step:
        return _step(self.open_command, src, dst, settle=settle)


def _step(command: Sequence[str], src: Path, dst: Path, *, settle: float) -> Step:
    """One timed run of `command`, every side starting from the same machine state.

    The pause matters on virtual machines that hand freed memory back to the hypervisor
    (Linux free page reporting, as on the project's Firecracker VMs): memory freed a
    moment ago is still backed and cheap to fill, memory freed seconds ago must be faulted
    back in by the host. Without it, whichever step happens to follow a deletion closely
    wins a lottery; with it, every step writes into memory that has settled.
    """
    _fresh(dst)
    _warm(src)
    time.sleep(settle)
    paths = {SRC: str(src), DST: str(dst)}
    return _run_measured([paths.get(arg, arg) for arg in command])


def _ours(name: str, recipient: str, identity_file: Path) -> Side:
    worker = (sys.executable, "-m", "bench._seal_worker")
    return Side(
        name,
        (*worker, "seal", recipient, SRC, DST),
        (*worker, "open", str(identity_file), SRC, DST),
    )


def _age(age: str, recipient: str, identity_file: Path) -> Side:
    return Side(
        "age",
        (age, "-r", recipient, "-o", DST, SRC),
        (age, "-d", "-i", str(identity_file), "-o", DST, SRC),
    )


# -- the run -----------------------------------------------------------------------------


def _make_input(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MIB)
            f.write(os.urandom(n))
            left -= n


def _keygen(directory: Path, name: str, argv: Sequence[str]) -> tuple[Path, str]:
    """Write an identity file with `argv` and return it with its recipient."""
    path = directory / name
    out = subprocess.run(list(argv), capture_output=True, check=True, cwd=REPO_ROOT).stdout
    path.write_bytes(out)
    path.chmod(0o600)
    identity = identity_from_file(str(path))
    derive = [
        sys.executable,
        "-c",
        "import sys, crypto.age as a; print(a.recipient_of(sys.argv[1]))",
    ]
    recipient = subprocess.run(
        [*derive, identity], capture_output=True, check=True, text=True, cwd=REPO_ROOT
    ).stdout.strip()
    return path, recipient


def _fmt(step: Step, size: int) -> str:
    peak = step.peak_rss_kib / 1024
    text = (
        f"{step.mb_per_s(size):7.1f} MB/s {step.seconds:5.2f} s"
        f"  cpu {step.user_seconds:4.2f}+{step.system_seconds:4.2f} s  peak {peak:4.1f} MiB"
    )
    if step.library_seconds is None:
        return text
    return f"{text}  (library alone {size / 1e6 / step.library_seconds:.0f} MB/s)"


def _summary(label: str, steps: list[Step], size: int) -> float:
    rate = statistics.median(s.mb_per_s(size) for s in steps)
    user = statistics.median(s.user_seconds for s in steps)
    system = statistics.median(s.system_seconds for s in steps)
    peak = max(s.peak_rss_kib for s in steps) / 1024
    print(
        f"  {label:<16} median {rate:7.1f} MB/s  cpu {user:4.2f}+{system:4.2f} s"
        f"  peak memory {peak:4.1f} MiB"
    )
    return rate


def run(size_mib: int, rounds: int, directory: Path, age: str, *, settle: float) -> float:
    size = size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="tvault-bench-", dir=directory))
    try:
        src = work / "input.bin"
        print(f"input: {size_mib} MiB of random bytes in {work}", flush=True)
        _make_input(src, size)
        want = _sha256(src)

        x25519_key, x25519 = _keygen(work, "x25519.key", ["age-keygen"])
        pq_key, pq = _keygen(
            work,
            "pq.key",
            [sys.executable, "-c", "import crypto.age as a; print(a.generate_identity('pq'))"],
        )
        sides = [_ours("ours", x25519, x25519_key), _age(age, x25519, x25519_key)]
        hybrid = _ours("ours-hybrid", pq, pq_key)
        results: dict[str, list[Step]] = {}

        def record(side: Side, operation: str, step: Step) -> None:
            results.setdefault(f"{side.name} {operation}", []).append(step)
            print(f"  {side.name + ' ' + operation:<18} {_fmt(step, size)}", flush=True)

        for r in range(rounds):
            # Ours and age take turns going first, and each operation runs back to back on
            # both sides, so a change in the machine's load hits both alike.
            order = [*(sides if r % 2 == 0 else sides[::-1]), hybrid]
            print(f"round {r + 1}/{rounds}", flush=True)
            for side in order:
                record(side, "seal", side.seal(src, work / f"{side.name}.age", settle=settle))
            for side in order:
                opened = work / f"{side.name}.out"
                record(side, "open", side.open(work / f"{side.name}.age", opened, settle=settle))
                if r == 0 and _sha256(opened) != want:
                    raise SystemExit(f"{side.name}: the opened file differs from the input")
                opened.unlink()
            for side in order:
                (work / f"{side.name}.age").unlink()

        print(f"summary over {rounds} rounds, {size_mib} MiB, MB = 10^6 bytes")
        labels = [f"{side.name} {op}" for side in [*sides, hybrid] for op in ("seal", "open")]
        rate = {label: _summary(label, results[label], size) for label in labels}
        ours_peak = max(
            s.peak_rss_kib
            for label, steps in results.items()
            if label.startswith("ours")
            for s in steps
        )
        goal = "met" if ours_peak <= GOAL_PEAK_MIB * 1024 else "NOT met"
        print(
            f"  ours peak memory {ours_peak / 1024:.1f} MiB (goal <= {GOAL_PEAK_MIB} MiB: {goal})"
        )
        ratios = {op: rate[f"ours {op}"] / rate[f"age {op}"] for op in ("seal", "open")}
        print(f"  ratio ours/age: seal {ratios['seal']:.2f}, open {ratios['open']:.2f}")
        worse = min(ratios, key=lambda op: ratios[op])
        print(
            f"seal: ours={rate[f'ours {worse}']:.1f} age={rate[f'age {worse}']:.1f} "
            f"ratio={ratios[worse]:.2f}"
        )
        return ratios[worse]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m bench.seal", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--size-mib", type=_positive, default=1024, help="input size (default 1024)"
    )
    parser.add_argument(
        "--rounds",
        type=_positive,
        default=4,
        help="alternating rounds; even, so each side goes first as often (default 4)",
    )
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()), help="where the files go"
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=3.0,
        help="pause before each step, so freed memory settles alike for both (default 3)",
    )
    opts = parser.parse_args(args)
    age = shutil.which("age")
    if age is None or shutil.which("age-keygen") is None:
        parser.error("the age command is missing: apt-get install -y age")
    free = shutil.disk_usage(opts.dir).free
    if free < 5 * opts.size_mib * MIB:
        parser.error(
            f"{opts.dir} has {free // MIB} MiB free; the run needs {5 * opts.size_mib} MiB"
        )
    run(opts.size_mib, opts.rounds, opts.dir, age, settle=opts.settle_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
