"""The layers of DESIGN.md section 9 hold: crypto <- vault <- api; client uses crypto and
vault.report only; migrations use vault; nothing imports api except `tvault serve`.

The contracts live in pyproject.toml ([tool.importlinter]); these tests run them on the
real tree, prove on a synthetic tree that they catch a lazy (function-level) upward
import, and check that client's one way into api is the lazy import inside `serve`.
AST checks add what import-linter cannot see: crypto's external libraries, no HTTP below
api, and no environment reads in crypto.
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


def _stray_api_imports(source: str, *, is_cli: bool) -> list[int]:
    """Lines importing api anywhere but inside the body of client.cli's `serve`."""
    module = ast.parse(source)
    allowed: set[int] = set()
    if is_cli:
        for node in module.body:
            if isinstance(node, ast.FunctionDef) and node.name == "serve":
                allowed |= {id(found) for found in _api_imports(node)}
    return [node.lineno for node in _api_imports(module) if id(node) not in allowed]


def test_client_imports_api_only_lazily_inside_serve() -> None:
    """pyproject lets client.cli import api (for `tvault serve`); this narrows that to
    imports inside the body of the `serve` function, never at module level."""
    for path in sorted((ROOT / "client").rglob("*.py")):
        is_cli = path == ROOT / "client" / "cli.py"
        stray = _stray_api_imports(path.read_text(), is_cli=is_cli)
        assert not stray, f"{path.relative_to(ROOT)} imports api at lines {stray}"


def test_the_serve_exception_check_catches_module_level_and_other_functions() -> None:
    source = (
        "import api.app\n"
        "def serve():\n    from api.server import run\n"
        "def inbox():\n    from api import app\n"
    )
    assert _stray_api_imports(source, is_cli=True) == [1, 5]
    assert _stray_api_imports(source, is_cli=False) == [1, 3, 5]


def _imported_top_levels(package: str) -> dict[str, set[str]]:
    """Each top-level module imported anywhere in `package` (functions included), with the
    files that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_crypto_uses_only_the_stdlib_and_its_named_libraries() -> None:
    """DESIGN.md section 9: crypto uses the stdlib, cryptography, PyNaCl and argon2-cffi."""
    allowed = {"cryptography", "nacl", "argon2", "crypto"}
    imported = _imported_top_levels("crypto")
    extra = {
        name: files
        for name, files in imported.items()
        if name not in allowed and name not in sys.stdlib_module_names
    }
    assert not extra


def test_no_http_below_api() -> None:
    """vault and migrations know nothing of HTTP; HTTPException appears only in api."""
    http = {"fastapi", "starlette", "uvicorn", "httpx", "api"}
    for package in ("crypto", "vault", "migrations"):
        assert not http & _imported_top_levels(package).keys(), package
    for package in ("crypto", "vault", "migrations", "client"):
        for path in (ROOT / package).rglob("*.py"):
            assert "HTTPException" not in path.read_text(), path.relative_to(ROOT)


def test_crypto_never_reads_the_environment() -> None:
    """STYLE.md principle 8: callers decide; crypto is given its parameters."""
    for path in (ROOT / "crypto").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} reads {node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "os":
                names = {alias.name for alias in node.names}
                assert not names & {"environ", "getenv", "environb"}, path.relative_to(ROOT)
