"""`tvault submit` and `tvault replies` as commands (DESIGN.md section 7): flags, one JSON
value on stdout, the codename and advice on stderr, exit codes 0, 1 and 2."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from client import source_cli
from client.cli import app
from client.source import SourceServer
from tests.client.source_fake import URL, SourceVault
from tests.client.test_submit import NARRATIVE, report_file


@pytest.fixture
def vault(monkeypatch: pytest.MonkeyPatch) -> SourceVault:
    fake = SourceVault()

    class Mocked(SourceServer):
        def __init__(self, url: str, *, proxy: str | None, token: str | None = None) -> None:
            super().__init__(url, proxy=proxy, token=token)
            self._client = httpx.Client(
                base_url=URL + "/v1", transport=httpx.MockTransport(fake.handle)
            )

    monkeypatch.setattr(source_cli, "SourceServer", Mocked)
    return fake


def test_submit_then_replies_print_json_and_exit_0(vault: SourceVault, tmp_path: Path) -> None:
    runner = CliRunner()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"jpeg" * 1000)
    common = ["--server", URL, "--org", vault.fingerprint, "--dev", "--home", str(tmp_path / "h")]
    args = ["submit", *common, "--report", str(report_file(tmp_path)), "--attach", str(photo)]
    done = runner.invoke(app, [*args, "--lang", "en", "--json"])
    assert done.exit_code == 0, done.output
    printed = json.loads(done.stdout)
    assert set(printed) == {"codename", "record_id", "log_index", "attachments"}
    assert len(printed["attachments"]) == 1
    assert printed["codename"] in done.stderr  # shown before the upload began
    assert "phone" in done.stderr

    vault.reply(printed["record_id"], "thank you\x1b]0;owned\x07")
    env = {"TVAULT_CODENAME": printed["codename"]}
    text = runner.invoke(app, ["replies", *common], env=env)
    assert text.exit_code == 0, text.output
    assert "thank you\\x1b]0;owned\\x07" in text.stdout
    assert "\x1b" not in text.stdout
    listed = runner.invoke(app, ["replies", *common, "--json"], env=env)
    thread = json.loads(listed.stdout)
    assert thread["replies"][0]["message"] == "thank you\x1b]0;owned\x07"
    assert thread["receipt"]["verified"] is True

    plain = runner.invoke(app, ["submit", *common, "--report", str(report_file(tmp_path))])
    assert plain.exit_code == 0, plain.output
    assert "Codename:" in plain.stdout
    assert "log index" in plain.stdout
    assert NARRATIVE not in plain.stdout + plain.stderr


def test_refusals_exit_1_and_usage_errors_exit_2(vault: SourceVault, tmp_path: Path) -> None:
    runner = CliRunner()
    common = ["--server", URL, "--org", vault.fingerprint, "--dev", "--home", str(tmp_path / "h")]
    report = str(report_file(tmp_path))
    missing = runner.invoke(app, ["submit", *common, "--report", report, "--attach", "nope.bin"])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("tvault: attachment nope.bin: no such file")
    vault.publish(intake=[])
    empty = runner.invoke(app, ["submit", *common, "--report", report])
    assert empty.exit_code == 1
    assert "names no intake" in empty.stderr
    assert "Traceback" not in empty.output
    bad_lang = runner.invoke(app, ["submit", *common, "--report", report, "--lang", "fr"])
    assert bad_lang.exit_code == 2
    no_org = runner.invoke(app, ["replies", "--server", URL])
    assert no_org.exit_code == 2
    unknown = runner.invoke(
        app, ["replies", *common], env={"TVAULT_CODENAME": "abandon " * 10 + "about"}
    )
    assert unknown.exit_code == 1
    assert "codename" in unknown.stderr
