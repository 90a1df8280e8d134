"""The `tvault` contract (DESIGN.md section 7): names, flags and exit codes.

Exit codes: 0 success, 1 failed check or refused action, 2 usage error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from client.cli import app

TVAULT = Path(sys.executable).with_name("tvault")
runner = CliRunner()


def test_console_script_help_lists_the_commands() -> None:
    result = subprocess.run(
        [str(TVAULT), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert "version" in result.stdout


def test_no_command_is_a_usage_error() -> None:
    result = runner.invoke(app, [])
    assert result.exit_code == 2
    assert "Usage" in result.output


def test_serve_help_names_the_contract_flags() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for flag in ("--data-dir", "--host", "--port", "--dev", "--home", "--proxy"):
        assert flag in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--no-such-flag"],
        ["serve", "--port", "not-a-number"],
        ["serve", "--port", "70000"],
        ["serve", "unexpected-argument"],
        ["no-such-command"],
    ],
    ids=["unknown-flag", "port-not-a-number", "port-out-of-range", "extra-argument", "command"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_serve_on_a_data_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert runner.invoke(app, ["serve", "--data-dir", str(a_file)]).exit_code == 2


def test_serve_refuses_a_data_dir_it_cannot_create_with_exit_1(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    result = runner.invoke(app, ["serve", "--data-dir", str(a_file / "data")])
    assert result.exit_code == 1
    assert "cannot create the data dir" in result.output


def test_serve_refuses_a_data_dir_others_can_read_with_exit_1(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    result = runner.invoke(app, ["serve", "--data-dir", str(shared)])
    assert result.exit_code == 1
    assert "chmod 700" in result.output


def test_serve_refuses_the_weak_test_profile_without_dev(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["serve", "--data-dir", str(tmp_path / "d")], env={"TVAULT_KDF_PROFILE": "test"}
    )
    assert result.exit_code == 1
    assert "kdf_profile" in result.output


def test_serve_ignores_a_dev_variable_without_the_flag(tmp_path: Path) -> None:
    """Only --dev admits the test profile; TVAULT_DEV=true in the environment does not."""
    env = {"TVAULT_KDF_PROFILE": "test", "TVAULT_DEV": "true"}
    result = runner.invoke(app, ["serve", "--data-dir", str(tmp_path / "d")], env=env)
    assert result.exit_code == 1


def test_version_prints_the_distribution_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output == f"tvault {version('testimony-vault')}\n"


def test_version_json_prints_exactly_one_json_value() -> None:
    result = runner.invoke(app, ["version", "--json", "--home", "/tmp", "--proxy", "socks5://x:1"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"version": version("testimony-vault")}
