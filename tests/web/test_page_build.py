"""`tvault page build` writes one self-contained page with the org built in."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

from tests.web.support import built, inline_hashes

TVAULT = Path(sys.executable).with_name("tvault")
FINGERPRINT = "MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OBYX-E43U"


def _build(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TVAULT), "page", "build", *args], capture_output=True, text=True, check=False
    )


def test_the_page_is_one_file_with_the_server_and_fingerprint_built_in(tmp_path: Path) -> None:
    built()
    out = tmp_path / "source-page.html"
    org = FINGERPRINT.lower().replace("-", " ")
    result = _build(
        tmp_path, "--server", "https://vault.example.org/", "--org", org, "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    # Self-contained: nothing loaded, no URL but the server's own, inside the CSP and config.
    assert re.search(r"\s(src|href)=", page) is None
    assert set(re.findall(r"https?://[^\s\"'<>;,]*", page)) == {"https://vault.example.org"}
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert meta is not None
    policy = html.unescape(meta.group(1))
    hashes = inline_hashes(page)
    assert f"script-src '{hashes['script']}'" in policy
    assert f"style-src '{hashes['style']}'" in policy
    assert "default-src 'none'" in policy
    assert "connect-src https://vault.example.org;" in policy
    assert "unsafe" not in policy
    config = re.search(r'id="tvault-config">(.*?)</script>', page)
    assert config is not None
    assert json.loads(config.group(1)) == {
        "server": "https://vault.example.org",
        "saved": True,
        "fingerprint": FINGERPRINT,
        "params": {"t": 3, "m": 65536, "p": 4},
        "maxBytes": 512 * 1024 * 1024,
    }


def test_a_bad_server_or_fingerprint_is_refused_plainly(tmp_path: Path) -> None:
    built()
    out = tmp_path / "page.html"
    bad_org = _build(tmp_path, "--server", "https://v.example", "--org", "nope", "--out", str(out))
    assert bad_org.returncode == 1
    assert "not an org fingerprint" in bad_org.stderr
    bad_url = _build(
        tmp_path, "--server", "javascript:alert(1)", "--org", FINGERPRINT, "--out", str(out)
    )
    assert bad_url.returncode == 1
    assert "http:// or https://" in bad_url.stderr
    assert not out.exists()
