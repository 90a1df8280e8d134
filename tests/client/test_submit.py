"""`tvault submit` against an in-memory vault (tests/client/source_fake.py): what reaches
the intake caseworkers, the receipt, retries after dropped connections, and every refusal
before anything is sent."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

import pytest

from client.errors import ClientError
from client.home import Home
from client.submitting import NoProgress, Submitted, payload_size, submit
from crypto import envelope
from crypto import pow as crypto_pow
from crypto.codename import Codename
from crypto.profile import weak_test_profile
from tests.client.source_fake import POW_KEY, SourceVault
from vault.report import template

WEAK = weak_test_profile(insecure_test_only=True)
NARRATIVE = "canary narrative 7f3a"


def report_file(tmp_path: Path, *, narrative: str = NARRATIVE) -> Path:
    document = json.loads(template("ko"))
    document["narrative"] = narrative
    path = tmp_path / "report.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def run(
    vault: SourceVault,
    tmp_path: Path,
    *,
    attach: list[Path] | None = None,
    report: Path | None = None,
    fingerprint: str | None = None,
    progress: object = None,
) -> tuple[Submitted, list[Codename]]:
    announced: list[Codename] = []
    with vault.server() as server:
        done = submit(
            server,
            Home(tmp_path / "home"),
            fingerprint=fingerprint or vault.fingerprint,
            report_path=report or report_file(tmp_path),
            attachment_paths=attach or [],
            lang="en",
            profile=WEAK,
            announce=lambda codename, resumed: announced.append(codename),
            progress=progress or NoProgress(),  # type: ignore[arg-type]
        )
    return done, announced


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_a_report_with_attachments_reaches_every_intake_caseworker(tmp_path: Path) -> None:
    vault = SourceVault()
    photo = tmp_path / "사진 1.jpg"
    photo.write_bytes(os.urandom(300_000))
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"")
    done, announced = run(vault, tmp_path, attach=[photo, notes])
    assert announced == [done.codename]
    assert len(done.codename.indices) >= 11
    assert done.codename.lang == "en"
    report = vault.report_of(done.record_id)
    assert report["narrative"] == NARRATIVE
    assert report["attachments"] == [{"record": rid} for rid in done.attachments]
    keys_recipient = report["reply"]["recipient"]
    assert keys_recipient.startswith("age1")
    for holder in vault.intake:
        assert vault.open_record(done.record_id, holder).startswith(b"{")
    out = tmp_path / "out"
    out.mkdir()
    first = vault.attachment_of(done.attachments[0], out)
    assert first.name == "사진 1.jpg"
    assert first.read_bytes() == photo.read_bytes()
    assert vault.attachment_of(done.attachments[1], out).read_bytes() == b""
    assert done.log_index == vault.records[done.record_id].log_index
    # The proof of work was paid for exactly these records, and several chunks were sent.
    assert vault.requests.count("POST /tokens") == 1
    assert vault.puts > 4
    # Nothing is left in the home once the upload completed.
    assert files_under(tmp_path / "home") == []


def test_the_declared_size_is_padded_and_hides_the_length(tmp_path: Path) -> None:
    vault = SourceVault()
    sizes = []
    for narrative in ("short", "a little longer narrative"):
        done, _ = run(
            vault, tmp_path / narrative, report=report_file(tmp_path, narrative=narrative)
        )
        record = vault.records[done.record_id]
        assert record.size == len(record.data)
        sizes.append(record.size)
    assert sizes[0] == sizes[1] >= payload_size(envelope.REPORT_MIN_SIZE)


def test_dropped_connections_lost_acknowledgements_and_busy_answers_are_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("client.source.BACKOFF_SECONDS", 0.0)
    vault = SourceVault(chunk_bytes=32 * 1024)
    vault.drop = {2, 3, 7}
    vault.lose_ack = {5, 9}
    vault.forget = {11}  # the next chunk no longer starts where the server's data ends
    vault.busy = {13, 14}
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(400_000))
    done, _ = run(vault, tmp_path, attach=[big])
    out = tmp_path / "out"
    out.mkdir()
    assert vault.attachment_of(done.attachments[0], out).read_bytes() == big.read_bytes()
    assert vault.conflicts == 1


def test_drops_before_anything_is_sent_are_retried_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The org, its rotations, the roster and the checkpoints are fetched first: a circuit
    # that breaks then must not end the submission.
    monkeypatch.setattr("client.source.BACKOFF_SECONDS", 0.0)
    vault = SourceVault()
    vault.drop_gets = 2
    done, _ = run(vault, tmp_path)
    assert vault.drop_gets == 0
    assert vault.requests[:3] == ["GET /org", "GET /org", "GET /org"]
    assert done.record_id in vault.records


def test_a_lost_answer_to_the_submission_is_paid_again_with_a_fresh_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("client.source.BACKOFF_SECONDS", 0.0)
    vault = SourceVault()
    vault.lose_created = 1
    done, _ = run(vault, tmp_path)
    assert vault.requests.count("POST /tokens") == 2
    assert len(vault.submissions) == 2  # the first, staged but unanswered, expires unused
    assert vault.report_of(done.record_id)["narrative"] == NARRATIVE


def test_an_org_without_intake_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    vault = SourceVault()
    vault.publish(intake=[])
    with pytest.raises(ClientError, match="names no intake"):
        run(vault, tmp_path)
    assert "POST /tokens" not in vault.requests
    assert not vault.submissions


def test_a_tampered_roster_is_refused(tmp_path: Path) -> None:
    vault = SourceVault()
    vault.roster_text = vault.roster_text.replace('"version":1', '"version":9')
    with pytest.raises(ClientError, match="did not sign"):
        run(vault, tmp_path)
    assert not vault.submissions


def test_an_expired_roster_is_refused(tmp_path: Path) -> None:
    vault = SourceVault()
    vault.publish(expires_in=-1)
    with pytest.raises(ClientError, match="expired"):
        run(vault, tmp_path)


def test_another_orgs_fingerprint_is_refused(tmp_path: Path) -> None:
    vault = SourceVault()
    with pytest.raises(ClientError, match="not the org you named"):
        run(vault, tmp_path, fingerprint="AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA")


def test_a_malformed_report_names_the_field(tmp_path: Path) -> None:
    vault = SourceVault()
    document = json.loads(template("en"))
    document["source"]["knowledge"] = "rumour"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ClientError, match=r"source\.knowledge"):
        run(vault, tmp_path, report=path)
    assert vault.requests == []


def test_a_missing_attachment_is_refused(tmp_path: Path) -> None:
    vault = SourceVault()
    with pytest.raises(ClientError, match="no such file"):
        run(vault, tmp_path, attach=[tmp_path / "absent.jpg"])
    assert vault.requests == []


def test_an_attachment_over_the_policy_gets_a_clear_message(tmp_path: Path) -> None:
    vault = SourceVault()
    vault.max_size = 100_000
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(200_000))
    with pytest.raises(ClientError, match="size limit"):
        run(vault, tmp_path, attach=[big])
    assert files_under(tmp_path / "home") == []


def test_a_refused_proof_of_work_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = SourceVault()
    monkeypatch.setattr("crypto.pow.solve", _a_wrong_counter)
    with pytest.raises(ClientError, match="proof of work was refused"):
        run(vault, tmp_path)


def _a_wrong_counter(token: str, *, binding: bytes) -> int:
    """A counter the fake's check refuses. A fixed one would not do: at the fake's 4 bits,
    one in 16 counters is a solution, so the test failed one run in 16."""
    for counter in itertools.count(1 << 40):
        try:
            crypto_pow.verify(POW_KEY, token, binding=binding, counter=counter, now=time.time())
        except crypto_pow.PowError:
            return counter
    raise AssertionError("unreachable")


def test_a_receipt_for_another_entry_is_refused(tmp_path: Path) -> None:
    vault = SourceVault()
    original = vault.append

    def forged(**event: object) -> int:
        event["commitment"] = "00" * 32
        return original(**event)

    vault.append = forged  # type: ignore[method-assign]
    with pytest.raises(ClientError, match="another commitment"):
        run(vault, tmp_path)
