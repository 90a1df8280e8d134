"""The Dockerfile, checked without a Docker engine: multi-stage, locked, never root."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def _runtime_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def test_builder_installs_from_the_lock_without_dev_tools() -> None:
    runs = [args for name, args in _instructions() if name == "RUN"]
    syncs = [args for args in runs if "uv sync" in args]
    assert syncs
    assert all("--locked" in args and "--no-dev" in args for args in syncs)
    assert any("--require-hashes" in args for args in runs)


def test_is_multi_stage() -> None:
    assert sum(name == "FROM" for name, _ in _instructions()) >= 2


def test_runtime_runs_as_a_non_root_user() -> None:
    users = [args.split(":")[0] for name, args in _runtime_stage() if name == "USER"]
    assert users, "the runtime stage sets no USER, so it would run as root"
    assert users[-1] not in ("root", "0")


def test_entrypoint_serves_the_data_volume() -> None:
    stage = _runtime_stage()
    volumes = [json.loads(args) for name, args in stage if name == "VOLUME"]
    assert ["/data"] in volumes
    (entrypoint,) = [json.loads(args) for name, args in stage if name == "ENTRYPOINT"]
    assert entrypoint == ["tvault", "serve", "--data-dir", "/data", "--host", "0.0.0.0"]


def test_copied_sources_exist_and_secrets_stay_out() -> None:
    for name, args in _instructions():
        if name == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".git", ".venv", ".tools", "tests", "data"):
        assert path in ignored
