"""The caseworker's other commands against the in-memory vault: inbox, cases, export with
its consent check, the identity checked against the roster, and the CLI's exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from client import casework_cli
from client.casework import RecordServer, add_to_case, create_case, inbox, list_cases
from client.cli import app
from client.errors import ClientError
from client.exporting import export
from client.fetchproof import verify_fetch
from crypto import note
from crypto.checkpoint import parse_checkpoint, sign_checkpoint
from crypto.errors import ProofError
from tests.client.casework_fake import URL, FakeVault, staffed

UN_ONLY = {"share_with_un_working_groups": True, "publish": False, "recontact": False}


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeVault:
    return staffed(tmp_path, monkeypatch)


def test_the_inbox_lists_what_i_hold_with_names_from_the_roster(vault: FakeVault) -> None:
    source = vault.submit(holders=["in1"], files=[("a.txt", b"a")])
    vault.submit(holders=["cw2"])
    listed = inbox(vault.desk("in1"))
    assert [(r["id"], r["kind"]) for r in listed] == [
        (source.attachments[0], "attachment"),
        (source.report, "report"),
    ]
    assert listed[0]["parent"] == source.report
    assert listed[1]["holder_names"] == ["in1"]


def test_an_auditor_has_no_desk(vault: FakeVault) -> None:
    with pytest.raises(ClientError, match="not an intake or caseworker"):
        vault.desk("au1")


def test_an_identity_file_the_roster_does_not_name_is_refused(vault: FakeVault) -> None:
    vault.members[0]["recipient"] = vault.recipient("cw2")  # the server swapped in1's key
    vault.publish()
    source = vault.submit(holders=["cw2"])
    desk = vault.desk("in1")
    with pytest.raises(ClientError, match="other keys than the roster names"):
        create_case(desk, "x", "")
    assert source.report


def test_case_metadata_is_sealed_and_opens_for_its_creator(vault: FakeVault) -> None:
    source = vault.submit(holders=["in1"])
    desk = vault.desk("in1")
    case = create_case(desk, "함경북도 2024", "family of three")
    add_to_case(desk, case, source.report)
    assert "함경북도".encode() not in json.dumps(vault.cases).encode()
    assert list_cases(desk) == [
        {"id": case, "records": [source.report], "name": "함경북도 2024", "note": "family of three"}
    ]


def test_export_refuses_a_use_the_source_did_not_consent_to(
    vault: FakeVault, tmp_path: Path
) -> None:
    allowed = vault.submit(holders=["in1"], consent=UN_ONLY)
    refused = vault.submit(holders=["in1"])
    desk = vault.desk("in1")
    case = create_case(desk, "c", "")
    add_to_case(desk, case, allowed.report)
    add_to_case(desk, case, refused.report)
    out = tmp_path / "export.json"
    with pytest.raises(ClientError, match=f"{refused.report} did not consent") as caught:
        export(desk, record=None, case=case, out=out, fmt="json", use="un")
    assert allowed.report not in str(caught.value)
    with pytest.raises(ClientError, match="did not consent to publish"):
        export(desk, record=allowed.report, case=None, out=out, fmt="json", use="publish")
    assert not out.exists()
    assert vault.exports == []


def test_export_is_logged_first_and_never_carries_the_reply_key(
    vault: FakeVault, tmp_path: Path
) -> None:
    source = vault.submit(holders=["in1"], consent=UN_ONLY)
    desk = vault.desk("in1")
    out = tmp_path / "export.json"
    assert export(desk, record=source.report, case=None, out=out, fmt="json", use="un") == [
        source.report
    ]
    assert vault.exports == [source.report]
    (exported,) = json.loads(out.read_bytes())
    assert exported["record"] == source.report
    assert "reply" not in exported["report"]
    assert source.followup_key.hex() not in out.read_text()
    assert out.stat().st_mode & 0o077 == 0


def test_a_csv_export_defuses_spreadsheet_formulas(vault: FakeVault, tmp_path: Path) -> None:
    source = vault.submit(holders=["in1"], consent=UN_ONLY)
    out = tmp_path / "export.csv"
    export(vault.desk("in1"), record=source.report, case=None, out=out, fmt="csv", use="un")
    header, row = list(csv.reader(io.StringIO(out.read_text())))
    fields = dict(zip(header, row, strict=True))
    assert fields["detainee_name_hangul"] == "홍길동"
    assert fields["consent_share_with_un_working_groups"] == "true"
    assert all(not value.startswith(("=", "+", "-", "@")) for value in row)


def _forged(signed: str) -> str:
    """The same checkpoint text, signed by another key of the log's name."""
    text = signed.split("\n\n")[0] + "\n"
    name = text.split("\n")[0]
    return sign_checkpoint(parse_checkpoint(text), note.Signer.generate(name)).decode()


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (lambda s: s.pop("fetch"), "without its fetch proof"),
        (lambda s: s["fetch"].update(tree_size=1), "tree size"),
        (lambda s: s["fetch"].update(proof=[]), "does not include this fetch"),
        (lambda s: s["submitted"].update(proof=[]), "does not include the record's submission"),
        (lambda s: s["fetch"].update(checkpoint=_forged(s["fetch"]["checkpoint"])), "sign"),
    ],
    ids=["no-proof", "other-tree-size", "fetch-not-included", "submission-not-included",
         "checkpoint-signed-by-another-key"],
)  # fmt: skip
def test_each_broken_fetch_proof_is_named(vault: FakeVault, change: Any, found: str) -> None:
    source = vault.submit(holders=["in1", "cw2"], files=[("a.txt", b"a")])
    desk = vault.desk("in1")
    served = desk.server.call("GET", f"/records/{source.report}/header", auth=True)
    account, log = str(desk.me["id"]), desk.roster.log_key
    verify_fetch(served, record=source.report, account=account, log=log)
    with pytest.raises(ProofError, match="not this account's"):
        verify_fetch(served, record=source.report, account=vault.ids["cw2"], log=log)
    with pytest.raises(ProofError, match=r"not this record's|not this account's"):
        verify_fetch(served, record=source.attachments[0], account=account, log=log)
    change(served)
    with pytest.raises(ProofError, match=found):
        verify_fetch(served, record=source.report, account=account, log=log)


@pytest.fixture
def runner(vault: FakeVault, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    class Mocked(RecordServer):
        def __init__(self, url: str, *, proxy: str | None, token: str | None = None) -> None:
            super().__init__(url, proxy=proxy, token=token)
            self._client = httpx.Client(
                base_url=URL + "/v1", transport=httpx.MockTransport(vault.handle)
            )

    monkeypatch.setattr(casework_cli, "RecordServer", Mocked)
    return CliRunner()


def test_the_cli_prints_json_and_exits_0_1_or_2(
    vault: FakeVault, runner: CliRunner, tmp_path: Path
) -> None:
    source = vault.submit(holders=["in1"], files=[("a.txt", b"a")])
    home = ["--home", str(tmp_path / "in1")]
    listed = runner.invoke(app, ["inbox", "--json", *home])
    assert listed.exit_code == 0, listed.output
    assert {r["id"] for r in json.loads(listed.stdout)} == {source.report, *source.attachments}
    out = tmp_path / "out"
    opened = runner.invoke(app, ["open", source.report, "--out", str(out), "--json", *home])
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.stdout)["files"][source.attachments[0]] == str(out / "a.txt")
    refused = runner.invoke(app, ["open", source.report, "--out", str(out), *home[:0],
                                  "--home", str(tmp_path / "cw2")])  # fmt: skip
    assert refused.exit_code == 1
    assert "refused (404)" in refused.stderr
    neither = runner.invoke(app, ["export", "--out", str(tmp_path / "e.json"), *home])
    assert neither.exit_code == 2
    granted = runner.invoke(app, ["grant", source.report, "cw2", "--json", *home])
    assert json.loads(granted.stdout)["granted"] == {
        source.report: True,
        source.attachments[0]: True,
    }
    case = runner.invoke(app, ["case", "create", "c1", "--json", *home])
    assert case.exit_code == 0, case.output
    no_consent = runner.invoke(app, ["export", source.report, "--out", str(tmp_path / "e"), *home])
    assert no_consent.exit_code == 1
    assert "did not consent" in no_consent.stderr
