"""Issue 5's promise, through the real CLI against a real `tvault serve --dev`, on SQLite
and on PostgreSQL.

A family member fills in the Korean report template and sends it with two attachments, a
recording of 100 MiB and a photo with a Korean file name. The intake caseworker opens it:
every byte and every file name arrives. They reply; the source reads the reply with the
codename alone. A grant lets a second caseworker open the report; after the revoke the
colleague is refused. The `--age-file` output opens with npm `age-encryption` and, for an
org whose policy is X25519, with the `age` command. The auditor's `tvault audit verify`
passes after it all.

Bad input through the CLI (a wrong codename, a tampered roster, an oversized attachment,
a malformed report) is refused with exit 1 and a clear message, and loses nothing: the
earlier submission still opens and its replies still read.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.sourcing import wordlist
from crypto.codename import generate
from crypto.envelope import open_report_plaintext
from tests.api.conftest import RunningServer
from tests.e2e.support import (
    CASEWORKER,
    INTAKE,
    SOURCE,
    Cli,
    StaffedOrg,
    age_identity,
    korean_report,
    public_roster_swapped,
    serve,
    set_up_staff,
)
from tests.interop.conftest import age_cli, typage
from tests.interop.peers import AgeCli, Typage
from vault.report import parse_report

__all__ = ["age_cli", "typage"]  # the interop fixtures, imported for this module's tests

BIG_SIZE = 100 * 1024 * 1024
PHOTO_NAME = "함경북도 집결소 사진 2024년 5월.jpg"
PHOTO = "사진 대신 이 글: 어머니가 보낸 편지의 사본입니다.\n".encode() * 50
NARRATIVE = (
    "제 아들 홍길동은 2024년 5월 중국 공안에 체포되었습니다.\n"
    "6월에 북송되어 지금은 어디에 있는지 모릅니다. 도와 주세요."
)
REPLY = "보고서를 잘 받았습니다. 유엔 실무그룹에 전달해도 되는지 알려 주세요."
_CHUNK = 1 << 20


def _random_file(path: Path, size: int) -> str:
    """Write `size` random bytes to `path`; return their SHA-256, hex."""
    digest = hashlib.sha256()
    with path.open("wb") as sink:
        for offset in range(0, size, _CHUNK):
            chunk = os.urandom(min(_CHUNK, size - offset))
            digest.update(chunk)
            sink.write(chunk)
    return digest.hexdigest()


def _files_in(home: Path) -> list[Path]:
    return [path for path in home.rglob("*") if path.is_file()]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _open(org: StaffedOrg, user: str, record: str, out: str, *more: str) -> dict[str, Any]:
    """`tvault open RECORD --out DIR` as `user`; returns its JSON."""
    out_dir = org.tmp_path / out
    opened: dict[str, Any] = org.cli.json("open", record, "--out", str(out_dir), *more, home=user)
    return opened


def _check_opened_report(opened: dict[str, Any], record: str, filled: Path) -> dict[str, Any]:
    """The opened report is the one the source filled in, plus the blocks `submit` adds."""
    raw = Path(opened["files"][record]).read_bytes()
    added = {"reply": None, "attachments": None}
    assert parse_report(raw).model_copy(update=added) == parse_report(filled.read_bytes())
    document: dict[str, Any] = json.loads(raw)
    assert document["narrative"] == NARRATIVE
    assert document["reply"]["recipient"].startswith("age1")
    return document


# Hundreds of MiB through the CLI and the server, twice, on a loaded machine.
@pytest.mark.timeout(1200)
def test_a_korean_report_reaches_intake_who_replies_grants_and_revokes(
    served: tuple[RunningServer, str], tmp_path: Path, typage: Typage
) -> None:
    server, db_url = served
    cli = Cli(tmp_path, server.base_url)
    org = set_up_staff(cli, server, db_url, recovery=True)
    files = tmp_path / "source-files"
    files.mkdir()
    recording = files / "recording.bin"
    recording_sha = _random_file(recording, BIG_SIZE)
    (files / PHOTO_NAME).write_bytes(PHOTO)
    report = korean_report(files / "보고서.json", cli, narrative=NARRATIVE)

    submitted = org.submit(report, recording, files / PHOTO_NAME)
    record, codename = submitted["record_id"], submitted["codename"]
    assert len(submitted["attachments"]) == 2
    assert len(codename.split()) >= 10
    assert isinstance(submitted["log_index"], int)
    # The source's device keeps nothing of it: the resume file went with the completion.
    assert _files_in(tmp_path / SOURCE) == []

    inbox = cli.json("inbox", home=INTAKE)
    assert {record, *submitted["attachments"]} <= {item["id"] for item in inbox}
    assert cli.json("inbox", home=CASEWORKER) == []

    # Intake opens it: the report, both attachments byte for byte under their names.
    age_file = tmp_path / "report.age"
    opened = _open(org, INTAKE, record, "intake", "--age-file", str(age_file))
    document = _check_opened_report(opened, record, report)
    assert [ref["record"] for ref in document["attachments"]] == submitted["attachments"]
    by_name = {Path(path).name: Path(path) for path in opened["files"].values()}
    assert set(by_name) == {f"report-{record}.json", "recording.bin", PHOTO_NAME}
    assert by_name[PHOTO_NAME].read_bytes() == PHOTO
    assert _sha256(by_name["recording.bin"]) == recording_sha
    # The standard age file opens with another implementation and the same identity.
    plaintext = typage.decrypt(age_file.read_bytes(), [age_identity(tmp_path / INTAKE)])
    assert open_report_plaintext(plaintext) == Path(opened["files"][record]).read_bytes()

    # The reply reaches the source, who has nothing but the codename.
    assert cli.json("reply", record, "--message", REPLY, home=INTAKE)["sequence"] == 1
    thread = org.replies(codename)
    assert [r["message"] for r in thread["replies"]] == [REPLY]
    assert thread["records"][0]["id"] == record
    assert thread["receipt"]["verified"] is True

    # A grant lets the colleague open it all; granting again changes nothing.
    granted = cli.json("grant", record, CASEWORKER, home=INTAKE)["granted"]
    assert set(granted) == {record, *submitted["attachments"]}
    assert all(granted.values())
    again = cli.json("grant", record, CASEWORKER, home=INTAKE)["granted"]
    assert not any(again.values())
    colleague = _open(org, CASEWORKER, record, "colleague")
    _check_opened_report(colleague, record, report)
    names = {Path(path).name: Path(path) for path in colleague["files"].values()}
    assert names[PHOTO_NAME].read_bytes() == PHOTO
    assert _sha256(names["recording.bin"]) == recording_sha

    # After the revoke the colleague is refused, for the report and for each attachment.
    cli.run("revoke", record, CASEWORKER, home=INTAKE)
    for revoked in (record, *submitted["attachments"]):
        refused = cli.fails("open", revoked, "--out", str(tmp_path / "refused"), home=CASEWORKER)
        assert refused.stderr.startswith("tvault: "), refused.stderr
        assert "Traceback" not in refused.stderr
    assert cli.json("inbox", home=CASEWORKER) == []
    # Intake still holds it, and the source still reads the reply.
    assert [r["message"] for r in org.replies(codename)["replies"]] == [REPLY]

    org.audit_verify()


@pytest.mark.timeout(600)
def test_an_x25519_org_s_age_files_open_with_the_age_command(
    served: tuple[RunningServer, str], tmp_path: Path, age_cli: AgeCli, typage: Typage
) -> None:
    server, db_url = served
    cli = Cli(tmp_path, server.base_url)
    org = set_up_staff(cli, server, db_url, recipient_type="x25519")
    files = tmp_path / "source-files"
    files.mkdir()
    (files / PHOTO_NAME).write_bytes(PHOTO)
    report = korean_report(files / "보고서.json", cli, narrative=NARRATIVE)
    submitted = org.submit(report, files / PHOTO_NAME)
    record, (photo,) = submitted["record_id"], submitted["attachments"]

    identity = age_identity(tmp_path / INTAKE)
    assert identity.startswith("AGE-SECRET-KEY-1")
    report_age, photo_age = tmp_path / "report.age", tmp_path / "photo.age"
    opened = _open(org, INTAKE, record, "intake", "--age-file", str(report_age))
    _check_opened_report(opened, record, report)
    alone = _open(org, INTAKE, photo, "photo", "--age-file", str(photo_age))
    assert Path(alone["files"][photo]).name == PHOTO_NAME
    assert Path(alone["files"][photo]).read_bytes() == PHOTO

    for peer in (age_cli, typage):
        plaintext = peer.decrypt(report_age.read_bytes(), [identity])
        assert open_report_plaintext(plaintext) == Path(opened["files"][record]).read_bytes()
        # An attachment's plaintext is a one-file tar carrying the real name.
        with tarfile.open(
            fileobj=io.BytesIO(peer.decrypt(photo_age.read_bytes(), [identity]))
        ) as tar:
            (member,) = tar.getmembers()
            assert member.name == PHOTO_NAME
            extracted = tar.extractfile(member)
            assert extracted is not None
            assert extracted.read() == PHOTO

    # Replies work with an X25519 reply identity too.
    cli.json("reply", record, "--message", REPLY, home=INTAKE)
    assert [r["message"] for r in org.replies(submitted["codename"])["replies"]] == [REPLY]
    org.audit_verify()


# --- bad input ----------------------------------------------------------------------------

UPLOAD_LIMIT = 256 * 1024


@pytest.fixture
def limited(tmp_path: Path, db_url: str) -> Iterator[StaffedOrg]:
    """A staffed org on a server that takes attachments of at most `UPLOAD_LIMIT` bytes."""
    with serve(tmp_path, db_url, TVAULT_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT)) as server:
        yield set_up_staff(Cli(tmp_path, server.base_url), server, db_url)


def _refused(stderr: str, *words: str) -> None:
    """A refusal ends with one plain message for a person, naming what was wrong (`submit`
    may have shown the codename before the server refused)."""
    assert "Traceback" not in stderr, stderr
    assert "tvault: " in stderr, stderr
    message = stderr[stderr.index("tvault: ") :]
    for word in words:
        assert re.search(word, message, re.IGNORECASE), (word, message)


@pytest.mark.timeout(600)
def test_bad_input_is_refused_clearly_and_loses_nothing(limited: StaffedOrg) -> None:
    org, cli = limited, limited.cli
    files = org.tmp_path / "source-files"
    files.mkdir()
    (files / PHOTO_NAME).write_bytes(PHOTO)
    report = korean_report(files / "보고서.json", cli, narrative=NARRATIVE)
    first = org.submit(report, files / PHOTO_NAME)
    record, codename = first["record_id"], first["codename"]
    cli.json("reply", record, "--message", REPLY, home=INTAKE)
    held = {item["id"] for item in cli.json("inbox", home=INTAKE)}
    assert held == {record, *first["attachments"]}

    # A wrong codename: a well-formed one nobody used, then one with a word swapped.
    unused = str(generate(wordlist("ko")))
    refused = cli.fails("replies", *org.source_args(), home=SOURCE, TVAULT_CODENAME=unused)
    _refused(refused.stderr, "codename|no report|not found|nothing")
    assert unused not in refused.stderr
    words = codename.split()
    words[0], words[1] = words[1], words[0]
    swapped = " ".join(words)
    refused = cli.fails("replies", *org.source_args(), home=SOURCE, TVAULT_CODENAME=swapped)
    _refused(refused.stderr, "check word|word")
    assert codename not in refused.stderr
    assert swapped not in refused.stderr

    # A malformed report: the message names the field, and nothing is uploaded.
    bad = json.loads(report.read_bytes())
    bad["source"]["knowledge"] = "소문"
    bad_report = files / "잘못된 보고서.json"
    bad_report.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    refused = cli.fails(*org.submit_args(bad_report), home=SOURCE)
    _refused(refused.stderr, r"source\.knowledge")
    bad = json.loads(report.read_bytes())
    bad["events"][0]["date"]["start"]["value"] = "2024-13-45"
    bad_report.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    refused = cli.fails(*org.submit_args(bad_report), home=SOURCE)
    _refused(refused.stderr, r"events\[0\]\.date\.start")

    # An attachment over the server's limit.
    oversized = files / "너무 큰 파일.bin"
    oversized.write_bytes(os.urandom(UPLOAD_LIMIT + 1))
    refused = cli.fails(*org.submit_args(report, oversized), home=SOURCE)
    _refused(refused.stderr, "large|limit|size|bytes|MiB|KiB")

    # A tampered roster: the server swapped the intake key in the public roster.
    with public_roster_swapped(org):
        refused = cli.fails(*org.submit_args(report), home=SOURCE)
        _refused(refused.stderr, "roster|signature")

    # Nothing was lost, nothing half-made is visible, and the refused submissions left
    # nothing on the source's device.
    assert _files_in(org.tmp_path / SOURCE) == []
    assert {item["id"] for item in cli.json("inbox", home=INTAKE)} == held
    opened = _open(org, INTAKE, record, "after")
    _check_opened_report(opened, record, report)
    names = {Path(path).name for path in opened["files"].values()}
    assert PHOTO_NAME in names
    assert [r["message"] for r in org.replies(codename)["replies"]] == [REPLY]
    org.audit_verify()
