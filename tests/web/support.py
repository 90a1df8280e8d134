"""Helpers for the source page's tests: the built page, and node running its code."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
NODE = shutil.which("node") or "node"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def built() -> None:
    """Build the page if `make setup` has not (the tests need web/dist and node_modules)."""
    if not (WEB / "node_modules" / ".package-lock.json").exists():
        subprocess.run(["npm", "ci", "--prefix", str(WEB), "--no-audit", "--no-fund"], check=True)
    if not (WEB / "dist" / "page.html").exists():
        subprocess.run([NODE, str(WEB / "build.mjs")], check=True)


def inline_hashes(html: str) -> dict[str, str]:
    """The CSP hash of each inline <script> and <style> of `html` (JSON data blocks aside)."""
    found = {}
    for tag, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        found[tag] = f"sha256-{digest}"
    return found


def drive(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Run web/scripts/drive.mjs (the page's flow, without a browser) on `request`."""
    result = subprocess.run(
        [NODE, str(WEB / "scripts" / "drive.mjs")],
        input=json.dumps(request, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    answer: dict[str, Any] = json.loads(lines[-1])
    return result.returncode, answer
