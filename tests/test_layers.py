"""The layers of DESIGN.md section 9 hold: crypto <- vault <- api; client uses crypto and
vault.report only; migrations use vault; nothing imports api except `tvault serve`.

The contracts live in pyproject.toml ([tool.importlinter]); these tests run them on the
real tree, prove on a synthetic tree that they catch a lazy (function-level) upward
import, and check that client's one way into api is the lazy import inside `serve`.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("crypto", "vault", "api", "client", "migrations")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_real_tree_keeps_every_layer_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _synthetic_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name in ("api/app.py", "vault/storage.py", "vault/report.py", "crypto/age.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "client/cli.py").write_text("def serve():\n    import api.app\n")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_a_lazy_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    tree = _synthetic_tree(tmp_path, {"crypto/age.py": "def f():\n    import vault.storage\n"})
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "crypto.age -> vault.storage" in result.stdout


def test_client_reaching_the_servers_storage_breaks_the_contract(tmp_path: Path) -> None:
    tree = _synthetic_tree(
        tmp_path, {"client/inbox.py": "import vault.report\n\ndef f():\n    import vault.storage\n"}
    )
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "client.inbox -> vault.storage" in result.stdout
    assert "client.inbox -> vault.report" not in result.stdout


def test_client_importing_api_outside_serve_breaks_the_contract(tmp_path: Path) -> None:
    tree = _synthetic_tree(tmp_path, {"client/inbox.py": "def f():\n    import api.app\n"})
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "client.inbox -> api.app" in result.stdout


def _api_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "api" or name.startswith("api.") for name in names):
            found.append(node)
    return found


def test_client_imports_api_only_lazily_inside_serve() -> None:
    """pyproject lets client.cli import api (for `tvault serve`); this narrows that to
    imports inside the body of the `serve` function, never at module level."""
    for path in sorted((ROOT / "client").rglob("*.py")):
        module = ast.parse(path.read_text(), filename=str(path))
        allowed: set[int] = set()
        if path == ROOT / "client" / "cli.py":
            for node in module.body:
                if isinstance(node, ast.FunctionDef) and node.name == "serve":
                    allowed |= {id(found) for found in _api_imports(node)}
        stray = [n.lineno for n in _api_imports(module) if id(n) not in allowed]
        assert not stray, f"{path.relative_to(ROOT)} imports api at lines {stray}"
