"""The page's bundled cryptography agrees with the Python code: node's test runner runs
web/test/core.test.mjs against vectors that tests/web/vectors.py makes with the very
functions `tvault submit` uses (codename keys, envelopes, proof of work, rosters, receipts,
replies, commitments, sealing), and web/test/flow.test.mjs runs the page's flow against a
fake server (each failure's code, an upload going on from the server's offset, the form's
report rules)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.web.support import NODE, WEB, built
from tests.web.vectors import make_vectors


def test_the_page_crypto_matches_the_python_vectors_and_its_flow_fails_plainly(
    tmp_path: Path,
) -> None:
    built()
    vectors = tmp_path / "vectors.json"
    vectors.write_text(json.dumps(make_vectors(), ensure_ascii=False), encoding="utf-8")
    result = subprocess.run(
        [NODE, "--test", str(WEB / "test" / "core.test.mjs"), str(WEB / "test" / "flow.test.mjs")],
        env={**os.environ, "TVAULT_VECTORS": str(vectors)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
