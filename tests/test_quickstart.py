"""The README's quick start is exactly two commands, and CI runs the same test command."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_quick_start_is_two_commands_one_serves_one_tests() -> None:
    assert _quick_start_commands() == ["make serve", "make test"]


def test_ci_runs_the_readmes_test_command_strictly() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in script
    test_command = _quick_start_commands()[1]
    assert re.search(rf"^{re.escape(test_command)}\b", script, flags=re.MULTILINE)
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True, timeout=30)


def test_setup_installs_uv_only_from_hash_pinned_requirements() -> None:
    requirements = (ROOT / "requirements-tools.txt").read_text()
    assert re.search(r"^uv==[0-9.]+ \\$", requirements, flags=re.MULTILINE)
    assert "--hash=sha256:" in requirements
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements-tools.txt" in makefile
    assert "sync --locked" in makefile
