"""The suite's own layout: tests/ mirrors app/, and no test module imports another one
(shared helpers live in tests/utils/, shared fixtures in conftest.py)."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# Test folders that mirror a top-level folder other than app/.
MIRRORS_OUTSIDE_APP = {"migrations": ROOT / "alembic"}


def _imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, and every name it takes from one (`from . import test_x`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _is_test_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def test_no_test_module_imports_another() -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in TESTS.rglob("*.py")
        for name in _imported_modules(path)
        if _is_test_module(name)
    }
    assert not offenders, sorted(offenders)


def test_test_folders_mirror_the_code() -> None:
    for folder in TESTS.iterdir():
        if folder.is_dir() and (folder / "__init__.py").exists() and folder.name != "utils":
            mirrored = MIRRORS_OUTSIDE_APP.get(folder.name, ROOT / "app" / folder.name)
            assert mirrored.is_dir(), f"tests/{folder.name} mirrors nothing"
    assert not [p.name for p in TESTS.glob("test_*.py") if p.name != "test_layout.py"]
