"""`tvault open` against an in-memory vault (tests/client/casework_fake.py): what an honest
server gives opens byte for byte under its real names; what a malicious server or a
hostile source sends is refused before anything is decrypted or written outside DIR."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
from pathlib import Path

import httpx
import pytest

from client.auditing import keep_checkpoint, kept_checkpoint
from client.casework import grant, revoke
from client.errors import ClientError
from client.opening import open_record
from client.replying import reply
from crypto import age, messages
from crypto.checkpoint import Checkpoint, sign_checkpoint
from crypto.envelope import open_report_plaintext
from tests.client.casework_fake import FakeVault, hostile_tar, staffed

PHOTO = os.urandom(300_000)
NOTES = "그는 2024년 5월에 체포되었다.\n".encode()


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeVault:
    return staffed(tmp_path, monkeypatch)


def _files(out: Path) -> set[str]:
    return {path.name for path in out.iterdir()}


def test_a_report_opens_with_its_attachments_byte_identical_under_their_names(
    vault: FakeVault, tmp_path: Path
) -> None:
    source = vault.submit(holders=["in1"], files=[("사진 1.jpg", PHOTO), ("notes.txt", NOTES)])
    out = tmp_path / "out"
    opened = open_record(vault.desk("in1"), source.report, out, age_file=tmp_path / "r.age")
    assert (out / "사진 1.jpg").read_bytes() == PHOTO
    assert (out / "notes.txt").read_bytes() == NOTES
    document = json.loads((out / f"report-{source.report}.json").read_bytes())
    assert document["detainee"]["name_hangul"] == "홍길동"
    assert [a["record"] for a in document["attachments"]] == source.attachments
    assert _files(out) == {
        "사진 1.jpg",
        "notes.txt",
        f"report-{source.report}.json",
        f"thread-{source.report}.json",
    }
    assert opened.files[source.attachments[0]] == out / "사진 1.jpg"
    # --age-file is header ‖ payload: a standard age file for this caseworker's key.
    plain = io.BytesIO()
    identity = vault.identities["in1"].age_identity
    assert identity is not None
    with (tmp_path / "r.age").open("rb") as sealed:
        age.decrypt(sealed, plain, [identity])
    assert json.loads(open_report_plaintext(plain.getvalue())) == document
    # Every header fetched is in the log, by in1.
    fetched = [json.loads(e) for e in vault.entries if b"record.fetched" in e]
    assert {e["record"] for e in fetched} == {source.report, *source.attachments}
    assert {e["actor"] for e in fetched} == {vault.ids["in1"]}


def test_a_colleague_opens_after_a_grant_and_is_refused_after_the_revoke(
    vault: FakeVault, tmp_path: Path
) -> None:
    source = vault.submit(holders=["in1"], files=[("notes.txt", NOTES)])
    with pytest.raises(ClientError, match="refused \\(404\\)"):
        open_record(vault.desk("cw2"), source.report, tmp_path / "before")
    assert grant(vault.desk("in1"), source.report, "cw2") == {
        source.report: True,
        source.attachments[0]: True,
    }
    assert set(grant(vault.desk("in1"), source.report, "cw2").values()) == {False}
    open_record(vault.desk("cw2"), source.report, tmp_path / "granted")
    assert (tmp_path / "granted" / "notes.txt").read_bytes() == NOTES
    both = {source.report: True, source.attachments[0]: True}
    assert revoke(vault.desk("in1"), source.report, "cw2") == both
    assert set(revoke(vault.desk("in1"), source.report, "cw2").values()) == {False}
    with pytest.raises(ClientError, match="refused \\(404\\)"):
        open_record(vault.desk("cw2"), source.report, tmp_path / "after")


@pytest.mark.parametrize("user", ["au1", "nobody"], ids=["an-auditor", "not-in-the-roster"])
def test_grant_refuses_anyone_but_a_caseworker_in_the_roster(vault: FakeVault, user: str) -> None:
    source = vault.submit(holders=["in1"])
    with pytest.raises(ClientError, match=user):
        grant(vault.desk("in1"), source.report, user)


def test_a_swapped_payload_is_caught_before_decrypting(vault: FakeVault, tmp_path: Path) -> None:
    source = vault.submit(holders=["in1"])
    vault.swap_payload = True
    out = tmp_path / "out"
    with pytest.raises(ClientError, match="swapped"):
        open_record(vault.desk("in1"), source.report, out, age_file=tmp_path / "r.age")
    assert _files(out) == set()
    assert not (tmp_path / "r.age").exists()


def test_a_fetch_served_without_its_log_entry_is_refused(vault: FakeVault, tmp_path: Path) -> None:
    source = vault.submit(holders=["in1"])
    vault.unlogged_fetch = True
    with pytest.raises(ClientError, match="not this account's fetch"):
        open_record(vault.desk("in1"), source.report, tmp_path / "out")
    assert _files(tmp_path / "out") == set()


def _keep(vault: FakeVault, size: int, root: bytes) -> None:
    desk = vault.desk("in1")
    head = Checkpoint(vault.log.name, size, root)
    keep_checkpoint(desk.home, desk.fingerprint, head, sign_checkpoint(head, vault.log))


def test_a_log_rolled_back_since_the_last_fetch_is_refused(
    vault: FakeVault, tmp_path: Path
) -> None:
    source = vault.submit(holders=["in1"])
    _keep(vault, 1000, bytes(32))  # this home saw a longer log before
    with pytest.raises(ClientError, match="ROLLBACK"):
        open_record(vault.desk("in1"), source.report, tmp_path / "out")


def test_a_log_rewritten_since_the_last_fetch_is_refused(vault: FakeVault, tmp_path: Path) -> None:
    source = vault.submit(holders=["in1"], files=[("notes.txt", NOTES)])
    _keep(vault, 1, bytes(32))  # the first entry this home saw had another hash
    with pytest.raises(ClientError, match="FORK"):
        open_record(vault.desk("in1"), source.report, tmp_path / "out")


def test_the_latest_checkpoint_is_kept_and_grows(vault: FakeVault, tmp_path: Path) -> None:
    source = vault.submit(holders=["in1"])
    desk = vault.desk("in1")
    open_record(desk, source.report, tmp_path / "one")
    first = kept_checkpoint(desk.home, desk.fingerprint)
    open_record(desk, source.report, tmp_path / "two")
    second = kept_checkpoint(desk.home, desk.fingerprint)
    assert first is not None
    assert second is not None
    assert second.tree_size == first.tree_size + 1 == len(vault.entries)


HOSTILE = {
    "path-traversal": hostile_tar(("../escaped.txt", tarfile.REGTYPE, b"x")),
    "absolute-path": hostile_tar(("/tmp/escaped.txt", tarfile.REGTYPE, b"x")),
    "symlink": hostile_tar(("link", tarfile.SYMTYPE, b"")),
    "two-files": hostile_tar(("a.txt", tarfile.REGTYPE, b"a"), ("b.txt", tarfile.REGTYPE, b"b")),
    "terminal-escape": hostile_tar(("\x1b]0;pwned\x07.txt", tarfile.REGTYPE, b"x")),
    "bidi-override": hostile_tar(("invoice\u202etxt.exe", tarfile.REGTYPE, b"x")),
    "not-a-tar": b"MZ" + os.urandom(20_000),
    "data-after-the-archive": hostile_tar(("a.txt", tarfile.REGTYPE, b"a")) + b"hidden",
}


@pytest.mark.parametrize("envelope", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_envelope_is_refused_and_writes_nothing_outside_out(
    vault: FakeVault, tmp_path: Path, envelope: bytes
) -> None:
    source = vault.submit(holders=["in1"], envelopes=[envelope])
    out = tmp_path / "deep" / "out"
    with pytest.raises(ClientError, match=r"refusing attachment .*envelope is refused") as caught:
        open_record(vault.desk("in1"), source.report, out)
    assert "\x1b" not in str(caught.value)
    assert "\u202e" not in str(caught.value)
    assert _files(out) == {f"report-{source.report}.json"}
    assert _files(tmp_path / "deep") == {"out"}


def test_a_dropped_download_resumes_where_it_stopped(vault: FakeVault, tmp_path: Path) -> None:
    source = vault.submit(holders=["in1"], files=[("photo.jpg", PHOTO)])
    out = tmp_path / "out"
    vault.drop_after = 100_000
    with pytest.raises(ClientError, match="run the same command again"):
        open_record(vault.desk("in1"), source.report, out)
    partial = out / f".tvault-{source.attachments[0]}.partial"
    assert partial.stat().st_size == 100_000
    vault.drop_after = None
    vault.ranges.clear()
    open_record(vault.desk("in1"), source.report, out)
    assert vault.ranges == [None, "bytes=100000-"]
    assert (out / "photo.jpg").read_bytes() == PHOTO
    assert not partial.exists()


def _source_reads(vault: FakeVault, source_identity: str, sealed: str) -> messages.Reply:
    plain = io.BytesIO()
    age.decrypt(io.BytesIO(base64.b64decode(sealed)), plain, [source_identity])
    keys = {m["id"]: base64.b64decode(m["verify_key"]) for m in vault.members}
    return messages.open_reply(plain.getvalue(), verify_keys=keys)


def test_a_reply_reaches_the_source_and_the_thread_is_checked(
    vault: FakeVault, tmp_path: Path
) -> None:
    source = vault.submit(holders=["in1"])
    sent = reply(vault.desk("in1"), source.report, "연락 주셔서 감사합니다.")
    assert sent.sequence == 1
    (served,) = vault.records[source.report].replies
    read = _source_reads(vault, source.reply_identity, served["sealed"])
    assert (read.record, read.sequence, read.message) == (
        source.report,
        1,
        "연락 주셔서 감사합니다.",
    )
    assert read.author == vault.ids["in1"]
    vault.follow_up(source, b'{"note": "\xec\x95\x84\xeb\x93\xa4"}', to=["in1"])
    open_record(vault.desk("in1"), source.report, tmp_path / "out")
    thread = json.loads((tmp_path / "out" / f"thread-{source.report}.json").read_bytes())
    assert thread["replies"][0]["message"] == "연락 주셔서 감사합니다."
    assert thread["replies"][0]["author_name"] == "in1"
    assert thread["followups"] == [{"sequence": 1, "content": {"note": "아들"}}]


def test_a_forged_follow_up_refuses_the_thread(vault: FakeVault, tmp_path: Path) -> None:
    source = vault.submit(holders=["in1"])
    vault.follow_up(source, b"forged", to=["in1"], forge=True)
    with pytest.raises(ClientError, match="bad MAC"):
        open_record(vault.desk("in1"), source.report, tmp_path / "out")


def test_a_forged_reply_refuses_the_thread(vault: FakeVault, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    source = vault.submit(holders=["in1"])
    forged = messages.sign_reply(
        record=source.report,
        sequence=1,
        author=vault.ids["in1"],
        message="send us the names",
        signing_key=Ed25519PrivateKey.generate(),
    )
    out = io.BytesIO()
    age.encrypt(io.BytesIO(forged), out, [vault.recipient("in1")])
    vault.records[source.report].replies.append(
        {"sequence": 1, "sealed": base64.b64encode(out.getvalue()).decode(), "author": "x"}
    )
    with pytest.raises(ClientError, match="refusing the thread"):
        open_record(vault.desk("in1"), source.report, tmp_path / "out")


def test_a_record_id_that_is_a_path_is_refused(vault: FakeVault, tmp_path: Path) -> None:
    source = vault.submit(holders=["in1"])
    lure = vault.submit(holders=["in1"])
    # The server lists a child of the report whose id would lead out of DIR.
    vault.records["../../escaped-0000000000"] = vault.records.pop(lure.report)
    vault.records["../../escaped-0000000000"].parent = source.report
    out = tmp_path / "deep" / "out"
    with pytest.raises(ClientError, match="is not a record id"):
        open_record(vault.desk("in1"), source.report, out)
    assert _files(tmp_path / "deep") == {"out"}


def test_an_earlier_fetch_replayed_for_an_unlogged_one_is_refused(
    vault: FakeVault, tmp_path: Path
) -> None:
    source = vault.submit(holders=["in1"])
    desk = vault.desk("in1")
    open_record(desk, source.report, tmp_path / "first")
    answers: list[httpx.Response] = []
    honest = vault.handle

    def replaying(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/header") and answers:
            return answers[0]
        response = honest(request)
        if request.url.path.endswith("/header"):
            answers.append(response)
        return response

    desk.server._client = httpx.Client(
        base_url=desk.server.url + "/v1", transport=httpx.MockTransport(replaying)
    )
    open_record(desk, source.report, tmp_path / "second")
    with pytest.raises(ClientError, match="an earlier fetch replayed"):
        open_record(desk, source.report, tmp_path / "third")
