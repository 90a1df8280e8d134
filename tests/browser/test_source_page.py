"""The source page in real headless Chromium (issue 7): a person submits in Korean, the
intake caseworker opens it with the CLI, the reply comes back to the page; the saved page
works from file://; each failure is explained in the page's language and loses nothing.

Screenshots of every step go under test-artifacts/browser/<test>/ (printed by each test).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Route

from tests.browser.support import KOREAN_EVENT, KOREAN_FORM, MAX_UPLOAD, SourcePage, png
from tests.e2e.support import INTAKE, TVAULT, StaffedOrg, serve

# A codename derivation, sealing and the proof of work run in the page; a dropped
# connection is retried with backoff for about a minute before the page gives up.
pytestmark = pytest.mark.timeout(300)

OpenPage = Callable[[str], SourcePage]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
PHOTO_NAME = "가족사진.png"
REPLY = "보내 주신 신고를 받았습니다. 담당자가 곧 확인하겠습니다."
FOLLOWUP = "6월에 도문에서 이송되었다고 들었습니다."


def _report_ids(org: StaffedOrg) -> set[str]:
    inbox = org.cli.json("inbox", home=INTAKE)
    return {item["id"] for item in inbox if item["kind"] == "report"}


def _open(org: StaffedOrg, record: str, out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """`tvault open` by the intake caseworker: the report document and the files by name."""
    opened = org.cli.json("open", record, "--out", str(out), home=INTAKE)
    files = {Path(path).name: Path(path) for path in opened["files"].values()}
    report: dict[str, Any] = json.loads(files.pop(f"report-{record}.json").read_bytes())
    return report, files


def _assert_the_typed_report(report: dict[str, Any], narrative: str) -> None:
    """The opened report holds what the person typed into the Korean form."""
    assert report["language"] == "ko"
    detainee = report["detainee"]
    assert detainee["name_hangul"] == KOREAN_FORM["detainee-name-hangul"]
    assert detainee["romanisations"] == [KOREAN_FORM["detainee-name-roman"]]
    assert detainee["sex"] == "female"
    assert detainee["birth_date"] == {"value": "1990-07", "precision": "month"}
    assert detainee["hometown"] == KOREAN_FORM["detainee-hometown"]
    assert report["source"] == {
        "relationship": KOREAN_FORM["source-relationship"],
        "knowledge": "hearsay",
        "last_contact": {"value": "2024-04", "precision": "month"},
    }
    assert report["consent"] == {
        "share_with_un_working_groups": False,
        "publish": False,
        "recontact": True,
    }
    (event,) = report["events"]
    assert event["kind"] == "arrest"
    assert event["date"]["start"] == {"value": KOREAN_EVENT["start"], "precision": "day"}
    assert event["facility"] == KOREAN_EVENT["facility"]
    assert event["responsible_unit"] == KOREAN_EVENT["unit"]
    assert event["description"] == KOREAN_EVENT["description"]
    assert report["narrative"] == narrative
    assert report["reply"]["recipient"].startswith("age1")


def _submitted(org: StaffedOrg, before: set[str]) -> str:
    """The one report record that reached intake since `before`."""
    (record,) = _report_ids(org) - before
    return record


def _build_page(org: StaffedOrg, fingerprint: str, out: Path) -> None:
    """`tvault page build`: the self-contained page for `fingerprint` at the org's server."""
    build = [str(TVAULT), "page", "build", "--server", org.server.base_url]
    build += ["--org", fingerprint, "--out", str(out)]
    result = subprocess.run(build, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.is_file()


def _other_fingerprint(fingerprint: str) -> str:
    """A well-formed fingerprint of no org: the real one with its first character changed."""
    return ("B" if fingerprint[0] == "A" else "A") + fingerprint[1:]


def _assert_clear(
    failure: tuple[str | None, str], code: str, words: str, *, korean: bool = True
) -> None:
    """The alert names the failure `code` in words a person reads, in the page's language
    (`words` is a phrase of its message): no stack trace, no bare code."""
    shown, message = failure
    assert shown == code, failure
    assert words in message, failure
    assert bool(HANGUL.search(message)) is korean, message
    assert "Error:" not in message, message
    assert ".js" not in message, message
    assert code not in message, message


def test_a_korean_report_with_a_photo_reaches_intake_and_the_reply_reaches_the_page(
    org: StaffedOrg, open_page: OpenPage, tmp_path: Path
) -> None:
    photo = tmp_path / PHOTO_NAME
    photo.write_bytes(png())
    before = _report_ids(org)
    source = open_page("ko-KR")
    source.open(org.server.base_url + "/")
    assert source.language == "ko"
    source.shot("form-in-korean")

    source.fill_report(org.fingerprint)
    source.attach(photo)
    source.shot("filled-in-with-photo")
    source.submit()
    codename = source.codename()
    source.shot("codename")
    assert len(codename.split()) >= 10
    assert HANGUL.search(codename), codename

    # The intake caseworker opens it with the CLI: the same fields, the same photo.
    record = _submitted(org, before)
    report, files = _open(org, record, tmp_path / "opened")
    _assert_the_typed_report(report, KOREAN_FORM["narrative"])
    assert [Path(name) for name in files] == [Path(PHOTO_NAME)]
    assert files[PHOTO_NAME].read_bytes() == photo.read_bytes()
    assert len(report["attachments"]) == 1

    # The caseworker's reply appears once the codename is entered.
    org.cli.run("reply", record, "--message", REPLY, home=INTAKE)
    replies = source.check_replies(codename)
    source.shot("reply")
    assert any(REPLY in reply for reply in replies), replies

    # What the person adds there reaches intake as a follow-up of the report.
    name, relationship = KOREAN_FORM["detainee-name-hangul"], KOREAN_FORM["source-relationship"]
    source.add_information(name, relationship, FOLLOWUP)
    source.shot("information-added")
    again = org.cli.json("open", record, "--out", str(tmp_path / "again"), home=INTAKE)
    thread = json.loads(Path(again["thread"]).read_bytes())
    assert [r["message"] for r in thread["replies"]] == [REPLY]
    (followup,) = thread["followups"]
    assert followup["content"]["narrative"] == FOLLOWUP
    assert followup["content"]["detainee"]["name_hangul"] == name
    assert source.problems == []


def test_the_saved_page_from_file_submits_the_same(
    org: StaffedOrg, open_page: OpenPage, tmp_path: Path
) -> None:
    saved = tmp_path / "tvault-page.html"
    _build_page(org, org.fingerprint, saved)
    before = _report_ids(org)
    source = open_page("ko-KR")
    asked: list[str] = []
    source.page.on("request", lambda request: asked.append(request.url))
    source.open(saved.as_uri())
    assert source.language == "ko"
    source.shot("saved-page")

    narrative = "저장된 페이지에서 보냅니다. " + KOREAN_FORM["narrative"]
    source.fill_report(None, narrative=narrative)
    source.submit()
    codename = source.codename()
    source.shot("codename")
    assert len(codename.split()) >= 10

    report, files = _open(org, _submitted(org, before), tmp_path / "opened")
    _assert_the_typed_report(report, narrative)
    assert files == {}
    assert source.problems == []
    # The file itself, then only the server built into it: nothing from anywhere else.
    assert asked[0] == saved.as_uri()
    assert all(url.startswith(org.server.base_url + "/v1/") for url in asked[1:]), asked


# --- failures: a clear message in the page's language, and the form kept -------------------


def _refused(
    org: StaffedOrg, source: SourcePage, url: str, fingerprint: str | None, *attach: Path
) -> tuple[str | None, str]:
    """Open `url`, fill in the report (typing `fingerprint` unless None), attach, send: the
    page's alert. Nothing reached intake and nothing typed was lost."""
    before = _report_ids(org)
    source.open(url)
    source.fill_report(fingerprint)
    if attach:
        source.attach(*attach)
    source.submit()
    failure = source.error()
    source.shot("refused")
    _assert_kept(source)
    assert _report_ids(org) == before
    return failure


def _assert_kept(source: SourcePage) -> None:
    """Nothing typed was lost: the report is still there to send again."""
    page = source.page
    for control, value in KOREAN_FORM.items():
        assert page.input_value(f"#{control}") == value, control


def test_no_connection(db_url: str, open_page: OpenPage, org: StaffedOrg, tmp_path: Path) -> None:
    directory = tmp_path / "gone"
    directory.mkdir()
    with serve(directory, db_url) as server:
        source = open_page("ko-KR")
        source.open(server.base_url + "/")
        source.fill_report(org.fingerprint)
        source.shot("filled-in")
    # The server has stopped: the page's requests find no one. It retries with backoff
    # for about a minute, which the page's clock skips through.
    source.page.clock.install()
    source.submit()
    for _ in range(60):  # five minutes of the page's time at most
        if source.page.locator("#error").is_visible():
            break
        source.page.clock.fast_forward(5_000)
        source.page.wait_for_timeout(50)
    failure = source.error()
    source.shot("no-connection")
    _assert_clear(failure, "offline", "연결할 수 없습니다")
    _assert_kept(source)


def test_a_wrong_fingerprint_typed(org: StaffedOrg, open_page: OpenPage) -> None:
    other = _other_fingerprint(org.fingerprint)
    failure = _refused(org, open_page("ko-KR"), org.server.base_url + "/", other)
    _assert_clear(failure, "fingerprint", "지문이 다릅니다")


def test_a_saved_page_for_another_org(org: StaffedOrg, open_page: OpenPage, tmp_path: Path) -> None:
    saved = tmp_path / "other-org.html"
    _build_page(org, _other_fingerprint(org.fingerprint), saved)
    failure = _refused(org, open_page("ko-KR"), saved.as_uri(), None)
    _assert_clear(failure, "fingerprint", "지문이 다릅니다")


@pytest.mark.parametrize("saved", [False, True], ids=["served", "saved"])
def test_a_file_too_large(
    org: StaffedOrg, open_page: OpenPage, tmp_path: Path, saved: bool
) -> None:
    """The server takes at most MAX_UPLOAD bytes an upload. The page it serves knows and
    says so before sending; a saved page built without the limit hears the server's 413."""
    big = tmp_path / "영상.bin"
    big.write_bytes(bytes(MAX_UPLOAD + 1))
    url, fingerprint = org.server.base_url + "/", org.fingerprint
    typed: str | None = fingerprint
    statuses: list[int] = []
    source = open_page("ko-KR")
    source.page.on("response", lambda response: statuses.append(response.status))
    if saved:
        page_file = tmp_path / "no-limit.html"
        _build_page(org, fingerprint, page_file)
        url, typed = page_file.as_uri(), None
    failure = _refused(org, source, url, typed, big)
    _assert_clear(failure, "too-large", "너무 큽니다")
    assert (413 in statuses) is saved, statuses


def _spoil(token: str) -> str:
    """The token with one bit of its MAC flipped: well formed, but not the server's."""
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-1] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("locale", "words"),
    [("ko-KR", "스팸 방지 문제의 답을 받지 않았습니다"), ("en-US", "refused the anti-spam puzzle")],
    ids=["ko", "en"],
)
def test_proof_of_work_refused(
    org: StaffedOrg, open_page: OpenPage, locale: str, words: str
) -> None:
    """The server itself refuses: every POST /submissions reaches it with a spoiled token."""
    answers: list[tuple[int, Any]] = []

    def spoil_token(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        body = json.loads(route.request.post_data or "{}")
        body["pow"]["token"] = _spoil(body["pow"]["token"])
        response = route.fetch(post_data=json.dumps(body))
        answers.append((response.status, response.json()))
        route.fulfill(response=response)

    source = open_page(locale)
    source.page.context.route(re.compile(r".*/v1/submissions$"), spoil_token)
    failure = _refused(org, source, org.server.base_url + "/", org.fingerprint)
    assert answers, "the page sent no submission"
    assert all(status == 403 for status, _ in answers), answers
    assert all(problem.get("reason") == "pow-refused" for _, problem in answers), answers
    korean = locale.startswith("ko")
    assert source.language == ("ko" if korean else "en")
    _assert_clear(failure, "pow-refused", words, korean=korean)
