"""The page's flow (web/src/flow.js, run by node without a browser) against a real
`tvault serve --dev`: a Korean report with a photo, sealed by the page, opens for the
intake caseworker with the CLI as the same report and the same file; the caseworker's
reply opens with the codename alone, and information added by the page reaches the
thread. Each failure comes back as the code the page shows a message for."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.e2e.support import INTAKE, Cli, StaffedOrg, korean_report, serve, set_up_staff
from tests.web.support import built, drive
from vault.report import encode_report, parse_report

#: The weak codename cost of the test profile, as the dev server's page is built with.
WEAK = {"t": 1, "m": 8, "p": 1}
PHOTO_NAME = "가족 사진.jpg"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 300


def _report(org: StaffedOrg) -> dict[str, Any]:
    path = korean_report(org.tmp_path / "보고서.json", org.cli, narrative="웹 페이지 canary 7c1e")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _submit(org: StaffedOrg, report: dict[str, Any], **changes: Any) -> tuple[int, dict[str, Any]]:
    request = {
        "op": "submit",
        "server": org.server.base_url,
        "fingerprint": org.fingerprint,
        "params": WEAK,
        "lang": "ko",
        "report": report,
        "files": [{"name": PHOTO_NAME, "data": base64.b64encode(PHOTO).decode()}],
    }
    return drive({**request, **changes})


def test_a_report_sealed_by_the_page_opens_for_intake_and_the_reply_comes_back(
    staffed: StaffedOrg,
) -> None:
    built()
    org = staffed
    report = _report(org)
    code, submitted = _submit(org, report)
    assert code == 0, submitted
    assert submitted["steps"] == ["org", "keys", "work", "seal", "upload", "complete"]
    codename, record = submitted["codename"], submitted["recordId"]
    assert len(codename.split()) == 11
    opened = org.cli.json("open", record, "--out", str(org.tmp_path / "intake"), home=INTAKE)
    raw = Path(opened["files"][record]).read_bytes()
    sealed = parse_report(raw, require_reply=True)
    assert sealed.model_copy(update={"reply": None, "attachments": None}) == parse_report(
        json.dumps(report, ensure_ascii=False)
    )
    # The page encodes the report exactly as the CLI would.
    assert raw == encode_report(sealed)
    assert [a.record for a in sealed.attachments or []] == submitted["attachments"]
    photo = Path(opened["files"][submitted["attachments"][0]])
    assert photo.name == PHOTO_NAME
    assert photo.read_bytes() == PHOTO

    org.cli.json("reply", record, "--message", "잘 받았습니다. 곧 연락드리겠습니다.", home=INTAKE)
    lookup = {"op": "replies", "server": org.server.base_url, "fingerprint": org.fingerprint}
    code, thread = drive({**lookup, "params": WEAK, "codename": codename, "add": report})
    assert code == 0, thread
    assert [r["message"] for r in thread["replies"]] == ["잘 받았습니다. 곧 연락드리겠습니다."]
    assert thread["records"] == [record, *submitted["attachments"]]
    assert thread["added"] == 1
    # The CLI, with the same codename, sees what the page added.
    assert org.replies(codename)["followups"] == 1
    # A mistyped codename is refused with its own message, before anything is sent.
    words = codename.split()
    words[0], words[1] = words[1], words[0]
    if words[0] != words[1]:
        code, refused = drive({**lookup, "params": WEAK, "codename": " ".join(words)})
        assert (code, refused["error"]) == (1, "codename")


def test_each_failure_has_its_own_code(staffed: StaffedOrg) -> None:
    built()
    org = staffed
    report = _report(org)
    other = "MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OBYX-E43U"
    assert _submit(org, report, fingerprint=other)[1]["error"] == "fingerprint"
    assert _submit(org, report, server="http://127.0.0.1:9")[1]["error"] == "offline"
    assert _submit(org, report, files=[{"name": "../x", "data": ""}])[1]["error"] == "name"


def test_a_file_over_the_servers_limit_is_refused_as_too_large(tmp_path: Path, db_url: str) -> None:
    built()
    with serve(tmp_path, db_url, TVAULT_MAX_UPLOAD_BYTES=str(64 * 1024)) as server:
        org = set_up_staff(Cli(tmp_path, server.base_url), server, db_url)
        code, answer = _submit(org, _report(org))
        assert (code, answer["error"]) == (1, "too-large")
        assert org.cli.json("inbox", home=INTAKE) == []
