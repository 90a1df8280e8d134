"""The serving process's memory: what it loads, and what a large upload leaves behind.

bench/submit.py measures the goal (a 500 MiB upload peaks at most 128 MiB); these check
the mechanisms on a smaller upload, as tests/api/test_submissions.py checks that the
upload holds one chunk at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.memory import tune_malloc
from tests.api.conftest import start_server
from tests.vault.submissions.support import paid, prepare_org
from vault.db import create_engine
from vault.settings import load_settings

MIB = 1024 * 1024


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_the_serving_process_does_not_load_alembic() -> None:
    # Migrations run in a forked child at start-up (api.server); Alembic and Mako would
    # stay resident for good (about 13 MiB).
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, api.server; print(sorted(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "'alembic" not in loaded
    assert "'mako" not in loaded


def test_malloc_settings_of_the_operator_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not tune_malloc()


def test_a_large_upload_raises_the_peak_by_a_few_chunks_and_leaves_little(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The weak KDF profile: the production one's dummy hash (64 MiB) would be the peak.
    monkeypatch.setenv("TVAULT_KDF_PROFILE", "test")
    server = start_server(tmp_path / "data", tmp_path / "server.log", "--dev")
    try:
        settings = load_settings(data_dir=tmp_path / "data", dev=True)
        database = create_engine(settings)
        try:
            prepare_org(settings, database)
        finally:
            database.dispose()
        pid = server.process.pid
        started = _status_mib(pid, "VmRSS")
        size = 96 * MIB
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            records = [{"kind": "report", "size": 100}, {"kind": "attachment", "size": size}]
            created = http.post(
                "/v1/submissions", json={"records": records, "pow": paid(http, records)}
            ).json()
            chunk = created["chunk_bytes"]
            url = f"/v1/submissions/{created['id']}/records/{created['records'][1]['id']}/payload"
            block = os.urandom(chunk)
            for offset in range(0, size, chunk):
                response = http.put(f"{url}?offset={offset}", content=block[: size - offset])
                assert response.status_code == 200, response.text
        peak, after = _status_mib(pid, "VmHWM"), _status_mib(pid, "VmRSS")
        # Growing with the payload would be 96 MiB. Measured with 4 MiB chunks: the peak
        # 18 MiB above start-up (the body, the driver's copies, SQLite's page cache, first
        # use of the routes), 9 MiB left after (21 and 20 without api.memory's settings,
        # 33 and 32 with 8 MiB chunks).
        assert chunk <= 4 * MIB
        assert peak - started < 32, (started, peak)
        assert after - started < 16, (started, after)
    finally:
        server.stop()
