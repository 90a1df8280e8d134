"""`tvault replies` against an in-memory vault (tests/client/source_fake.py): the receipt
proved, replies decrypted and their signatures checked against the roster's staff_keys,
follow-ups MAC'd, and a malicious server's forgeries refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from client.errors import ClientError
from client.returning import Thread, replies, terminal_text
from crypto.profile import weak_test_profile
from tests.client.source_fake import SourceVault
from tests.client.test_submit import report_file, run

WEAK = weak_test_profile(insecure_test_only=True)


def submitted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[SourceVault, str]:
    vault = SourceVault()
    done, _ = run(vault, tmp_path)
    monkeypatch.setenv("TVAULT_CODENAME", str(done.codename))
    return vault, done.record_id


def read(vault: SourceVault, add: Path | None = None) -> Thread:
    with vault.server() as server:
        return replies(server, fingerprint=vault.fingerprint, profile=WEAK, add=add)


def test_signed_replies_are_shown_and_the_receipt_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, report = submitted(tmp_path, monkeypatch)
    assert read(vault).replies == []
    vault.reply(report, "받았습니다. 연락하겠습니다.")
    vault.append(action="login.failed", actor="unknown")  # the log grows meanwhile
    second = vault.intake[1]
    vault.reply(report, "second\x1b[2Jreply", author=second)
    thread = read(vault)
    assert [r.message for r in thread.replies] == [
        "받았습니다. 연락하겠습니다.",
        "second\x1b[2Jreply",
    ]
    assert [r.author for r in thread.replies] == [vault.intake[0], second]
    assert thread.records[0]["id"] == report
    assert thread.tree_size == len(vault.entries)
    assert "POST /sources/lookup" in vault.requests
    assert "GET /log/checkpoint" in vault.requests


def test_a_forged_reply_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault, report = submitted(tmp_path, monkeypatch)
    vault.reply(report, "come to the border crossing alone", forge=True)
    with pytest.raises(ClientError, match="forged"):
        read(vault)


def test_a_reply_moved_to_another_place_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, report = submitted(tmp_path, monkeypatch)
    vault.reply(report, "one")
    vault.reply(report, "two")
    replies_ = vault.records[report].replies
    replies_[0]["sealed"], replies_[1]["sealed"] = replies_[1]["sealed"], replies_[0]["sealed"]
    with pytest.raises(ClientError, match="another record or place"):
        read(vault)


def test_a_receipt_left_out_of_the_log_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, report = submitted(tmp_path, monkeypatch)
    index = vault.records[report].log_index
    assert index is not None
    vault.entries[index] = vault.entries[index].replace(b"anonymous", b"anonymouz")
    with pytest.raises(ClientError, match="receipt does not verify"):
        read(vault)


def test_a_checkpoint_not_signed_by_the_log_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crypto import note

    vault, _ = submitted(tmp_path, monkeypatch)
    vault.log = note.Signer.generate(vault.log.name)
    with pytest.raises(ClientError, match="not signed by the org's log key"):
        read(vault)


def test_a_wrong_codename_finds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from client.sourcing import wordlist
    from crypto.codename import generate

    vault, _ = submitted(tmp_path, monkeypatch)
    monkeypatch.setenv("TVAULT_CODENAME", str(generate(wordlist("ko"))))
    with pytest.raises(ClientError, match="no report at this org matches"):
        read(vault)


def test_a_mistyped_codename_says_which_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, _ = submitted(tmp_path, monkeypatch)
    words = os.environ["TVAULT_CODENAME"].split()
    words[2] += "x"
    monkeypatch.setenv("TVAULT_CODENAME", " ".join(words))
    with pytest.raises(ClientError, match="word 3"):
        read(vault)
    assert "POST /sources/lookup" not in vault.requests


def test_a_follow_up_is_sealed_to_intake_and_maced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, report = submitted(tmp_path, monkeypatch)
    (tmp_path / "more").mkdir()
    more = report_file(tmp_path / "more", narrative="more canary 51c1")
    thread = read(vault, add=more)
    assert thread.added == 1
    plaintext = vault.check_followup(report, 1)
    assert json.loads(plaintext)["narrative"] == "more canary 51c1"
    assert read(vault, add=more).added == 2
    assert read(vault).followups == 2
    # A server cannot pass another ciphertext off as the source's.
    item = vault.records[report].followups[0]
    item["sealed"] = item["sealed"][:-1] + bytes([item["sealed"][-1] ^ 1])
    from crypto.errors import ProofError

    with pytest.raises(ProofError):
        vault.check_followup(report, 1)


def test_a_malformed_follow_up_is_refused_before_the_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, _ = submitted(tmp_path, monkeypatch)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "report/v1"}')
    vault.requests.clear()
    with pytest.raises(ClientError, match="language"):
        read(vault, add=bad)
    assert vault.requests == []


def test_terminal_text_escapes_controls_but_keeps_lines() -> None:
    assert terminal_text("a\x1b[31mb\nc\u202ed\te") == "a\\x1b[31mb\nc\\u202ed\te"
