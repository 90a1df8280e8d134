"""The issue-3 commands keep the contract of DESIGN.md section 7: names, flags, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from client.cli import app

runner = CliRunner()

COMMANDS = [
    ["org", "init"],
    ["login"],
    ["logout"],
    ["user", "add"],
    ["user", "disable"],
    ["enroll"],
    ["roster", "publish"],
    ["org", "rotate-key"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_takes_home_proxy_and_json(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    for flag in ("--home", "--proxy", "--json"):
        assert flag in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["user", "add", "kim", "--role", "boss"],
        ["user", "add", "kim"],
        ["org", "init", "--server", "http://x", "--org-name", "O", "--admin", "a"],
        [
            "org",
            "init",
            "--server",
            "http://x",
            "--bootstrap-code",
            "C",
            "--org-name",
            "O",
            "--admin",
            "a",
            "--recipient-type",
            "rsa",
        ],
        ["enroll", "--server", "http://x", "--org", "F", "--user", "u"],
        ["roster", "publish", "--valid-days", "0"],
        ["org", "rotate-key", "--valid-days", "0"],
    ],
    ids=[
        "unknown-role",
        "no-role",
        "no-bootstrap-code",
        "unknown-type",
        "no-code",
        "days-0",
        "rotate-days-0",
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_commands_needing_a_session_refuse_without_one(tmp_path: Path) -> None:
    for args in (["logout"], ["user", "disable", "kim"], ["roster", "publish", "--yes"]):
        result = runner.invoke(app, [*args, "--home", str(tmp_path / "home")])
        assert result.exit_code == 1
        assert "tvault login" in result.output


def test_an_unreachable_server_is_a_refusal_not_a_crash(tmp_path: Path) -> None:
    args = ["login", "--server", "http://127.0.0.1:9", "--org", "A" * 32, "--user", "kim"]
    result = runner.invoke(app, [*args, "--home", str(tmp_path / "home")])
    assert result.exit_code == 1
    assert "cannot reach" in result.output


def test_a_malformed_fingerprint_is_refused(tmp_path: Path) -> None:
    args = ["login", "--server", "http://127.0.0.1:9", "--org", "nonsense", "--user", "kim"]
    result = runner.invoke(app, [*args, "--home", str(tmp_path / "home")])
    assert result.exit_code == 1
