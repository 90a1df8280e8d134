"""Resuming an upload across runs: the encrypted resume file, the codename it needs, and
byte-for-byte re-sealing (tests/client/source_fake.py plays the vault)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from client.errors import ClientError
from client.home import Home
from client.resume import MAGIC, RecordState, ResumeFile, UploadState, state_name
from client.submitting import NoProgress, submit
from crypto import age
from crypto.codename import Codename
from crypto.profile import weak_test_profile
from tests.client.source_fake import SourceVault
from tests.client.test_submit import NARRATIVE, files_under, report_file

WEAK = weak_test_profile(insecure_test_only=True)


class Killed(BaseException):
    """What SIGKILL would do to the process, here: stop it mid-upload."""


class KillAfter(NoProgress):
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def update(self, done: int) -> None:
        if done > self.limit:
            raise Killed


def _submit(
    vault: SourceVault, home: Path, report: Path, attach: list[Path], progress: NoProgress
) -> tuple[list[tuple[Codename, bool]], object]:
    announced: list[tuple[Codename, bool]] = []
    with vault.server() as server:
        done = submit(
            server,
            Home(home),
            fingerprint=vault.fingerprint,
            report_path=report,
            attachment_paths=attach,
            lang="ko",
            profile=WEAK,
            announce=lambda codename, resumed: announced.append((codename, resumed)),
            progress=progress,
        )
    return announced, done


def _killed_upload(vault: SourceVault, tmp_path: Path) -> tuple[Codename, Path, Path, Path]:
    home, report = tmp_path / "home", report_file(tmp_path)
    big = tmp_path / "video.mp4"
    big.write_bytes(os.urandom(1_000_000))
    announced: list[tuple[Codename, bool]] = []
    with vault.server() as server, pytest.raises(Killed):
        submit(
            server,
            Home(home),
            fingerprint=vault.fingerprint,
            report_path=report,
            attachment_paths=[big],
            lang="ko",
            profile=WEAK,
            announce=lambda codename, resumed: announced.append((codename, resumed)),
            progress=KillAfter(300_000),
        )
    assert announced
    assert announced[0][1] is False
    return announced[0][0], home, report, big


def test_a_killed_upload_continues_when_the_same_command_runs_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = SourceVault()
    codename, home, report, big = _killed_upload(vault, tmp_path)
    (staged,) = vault.submissions.values()
    attachment = vault.records[staged.records[1]]
    held = len(attachment.data)
    assert 0 < held < attachment.size
    assert not staged.complete
    # The one file left is the encrypted resume state: no report text, no file name.
    (left,) = files_under(home)
    assert left.parent.name == "uploads"
    assert left.read_bytes().startswith(MAGIC)
    assert NARRATIVE.encode() not in left.read_bytes()
    assert b"video" not in left.read_bytes()
    assert (left.stat().st_mode & 0o777) == 0o600

    monkeypatch.setenv("TVAULT_CODENAME", str(codename))
    puts_before = vault.puts
    announced, done = _submit(vault, home, report, [big], NoProgress())
    assert announced == [(codename, True)]
    assert done.codename == codename  # type: ignore[attr-defined]
    assert len(vault.submissions) == 1  # the same submission, no second proof of work
    assert vault.requests.count("POST /tokens") == 1
    # Only what the server lacked was sent again.
    assert (
        vault.puts - puts_before
    ) * vault.chunk_bytes < attachment.size - held + vault.chunk_bytes
    out = tmp_path / "out"
    out.mkdir()
    assert vault.attachment_of(staged.records[1], out).read_bytes() == big.read_bytes()
    assert vault.report_of(staged.records[0])["narrative"] == NARRATIVE
    assert files_under(home) == []


def test_the_wrong_codename_opens_no_resume_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = SourceVault()
    _codename, home, report, big = _killed_upload(vault, tmp_path)
    from client.sourcing import wordlist
    from crypto.codename import generate

    other = generate(wordlist("en"))
    monkeypatch.setenv("TVAULT_CODENAME", str(other))
    with pytest.raises(ClientError, match="does not open the unfinished upload"):
        _submit(vault, home, report, [big], NoProgress())
    assert len(files_under(home)) == 1  # kept for the right codename
    monkeypatch.setenv("TVAULT_CODENAME", "abandon abandon")
    with pytest.raises(ClientError, match="codename"):
        _submit(vault, home, report, [big], NoProgress())


def test_resuming_with_other_attachments_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = SourceVault()
    codename, home, report, _big = _killed_upload(vault, tmp_path)
    monkeypatch.setenv("TVAULT_CODENAME", str(codename))
    with pytest.raises(ClientError, match="other attachments"):
        _submit(vault, home, report, [], NoProgress())


def test_resuming_after_an_attachment_changed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = SourceVault()
    codename, home, report, big = _killed_upload(vault, tmp_path)
    data = bytearray(big.read_bytes())
    data[0] ^= 1
    big.write_bytes(bytes(data))
    os.utime(big, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    monkeypatch.setenv("TVAULT_CODENAME", str(codename))
    with pytest.raises(ClientError, match="changed since its upload started"):
        _submit(vault, home, report, [big], NoProgress())


def test_an_expired_upload_starts_again_with_the_same_codename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = SourceVault()
    codename, home, report, big = _killed_upload(vault, tmp_path)
    vault.submissions.clear()  # the staged upload expired
    monkeypatch.setenv("TVAULT_CODENAME", str(codename))
    _announced, done = _submit(vault, home, report, [big], NoProgress())
    assert done.codename == codename  # type: ignore[attr-defined]
    assert len(vault.submissions) == 1
    assert files_under(home) == []


def test_a_rolled_back_roster_is_refused_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = SourceVault()
    older = vault.roster_text
    vault.publish()
    codename, home, report, big = _killed_upload(vault, tmp_path)
    vault.roster_text = older
    monkeypatch.setenv("TVAULT_CODENAME", str(codename))
    with pytest.raises(ClientError, match="rollback"):
        _submit(vault, home, report, [big], NoProgress())


def test_resealing_with_the_same_key_and_nonce_gives_the_same_bytes() -> None:
    key, nonce, data = age.new_file_key(), os.urandom(16), os.urandom(200_000)
    outs = []
    for _ in range(2):
        out = io.BytesIO()
        age.seal_payload(io.BytesIO(data), out, key, nonce=nonce)
        outs.append(out.getvalue())
    assert outs[0] == outs[1]
    assert outs[0][:16] == nonce
    plain = io.BytesIO()
    age.open_payload(io.BytesIO(outs[0]), plain, key)
    assert plain.getvalue() == data


def test_the_resume_file_is_bound_to_its_name(tmp_path: Path) -> None:
    home, key = Home(tmp_path / "home"), os.urandom(32)
    state = UploadState(
        "S" * 26, 3, 1024, [RecordState("R" * 26, "report", 5, b"k" * 16, b"n" * 16, {"a": b"h"})]
    )
    first = ResumeFile(home, state_name("FP", b"one"))
    first.save(key, state)
    assert first.load(key) == state
    second = ResumeFile(home, state_name("FP", b"two"))
    second.path.write_bytes(first.path.read_bytes())  # moved to another report's name
    with pytest.raises(ClientError, match="does not open"):
        second.load(key)
