"""bench/login_timing.py works: a tiny run on the weak profile prints its figure line.
(The figure itself is the bench's to print, never a test's to assert.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository root


def test_the_bench_runs_and_prints_both_medians() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.login_timing", "--logins", "3", "--dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("login_timing: unknown_ms="), last
    assert "known_wrong_ms=" in last
    assert "difference_pct=" in last
