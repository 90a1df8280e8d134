"""`tvault report template [--lang ko|en]`: a valid example on stdout, usage errors exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from typer.testing import CliRunner

from client.cli import app
from vault.report import parse_report, template

TVAULT = Path(sys.executable).with_name("tvault")
runner = CliRunner()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_template_parses_as_a_report(lang: Literal["ko", "en"]) -> None:
    result = runner.invoke(app, ["report", "template", "--lang", lang])
    assert result.exit_code == 0, result.output
    assert parse_report(result.stdout_bytes).language == lang
    assert result.stdout_bytes.decode() == template(lang)


def test_the_default_is_korean() -> None:
    result = runner.invoke(app, ["report", "template"])
    assert result.exit_code == 0
    assert parse_report(result.stdout_bytes).language == "ko"


def test_the_uniform_flags_are_accepted() -> None:
    args = ["report", "template", "--json", "--home", "/nonexistent", "--proxy", "socks5://x:1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    parse_report(result.stdout_bytes)


@pytest.mark.parametrize(
    "args",
    [["--lang", "fr"], ["--lang"], ["--no-such-flag"], ["extra-argument"]],
    ids=["unknown-language", "missing-value", "unknown-flag", "extra-argument"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = runner.invoke(app, ["report", "template", *args])
    assert result.exit_code == 2
    assert result.stdout_bytes == b"" or b"Usage" in result.stdout_bytes


def test_the_console_script_writes_utf8_under_an_ascii_locale() -> None:
    result = subprocess.run(
        [str(TVAULT), "report", "template", "--lang", "ko"],
        capture_output=True,
        timeout=60,
        check=False,
        env={"LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": "ascii", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert parse_report(result.stdout).detainee.name_hangul == "홍길동"
