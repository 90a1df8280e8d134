"""`tvault serve` on a fresh data dir prints a one-time bootstrap code; later starts don't."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from tests.api.conftest import start_server

CODE = re.compile(r"one-time bootstrap code: ([A-Z2-7-]+)")


def test_first_start_prints_the_code_and_later_starts_reuse_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data, tmp_path / "first.log").stop()
    match = CODE.search(first)
    assert match, first
    code_file = data / "bootstrap-code"
    assert code_file.read_text() == match.group(1) + "\n"
    assert stat.S_IMODE(code_file.stat().st_mode) == 0o600
    assert (data / "vault.sqlite3").exists()

    second = start_server(data, tmp_path / "second.log").stop()
    assert "bootstrap code" not in second
    assert code_file.read_text() == match.group(1) + "\n"
