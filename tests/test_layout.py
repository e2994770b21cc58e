"""The house rules the layout must keep: no import cycles, small modules, SQL only in the store, package data shipped."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "archive"
MAX_LINES = 450
SQL_TEXT = re.compile(r"\btext\(")


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules this module imports, anywhere in it (function-level imports count too)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def test_the_import_graph_of_archive_has_no_cycles():
    mods = modules()
    graph = {name: imports_of(name, path, set(mods)) for name, path in mods.items()}
    # A package's __init__ re-exporting its submodules is not a cycle: a submodule importing
    # `archive.x.y` loads `archive.x` first only as a container; count edges to packages only
    # when the package module itself is named.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + "."):
                continue  # a package importing its own submodule
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_module_is_too_long():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"modules above {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("layer", ["search", "web"])
def test_sql_lives_in_the_store_only(layer: str):
    offenders = [
        f"{p.relative_to(PROJECT_ROOT)}:{i}"
        for p in sorted((PACKAGE / layer).rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if SQL_TEXT.search(line)
    ]
    assert offenders == []
    sqlalchemy = [
        str(p.relative_to(PROJECT_ROOT))
        for p in sorted((PACKAGE / layer).rglob("*.py"))
        if "sqlalchemy" in p.read_text()
    ]
    assert sqlalchemy == []


def test_flask_is_imported_by_the_web_layer_only():
    users = [
        name
        for name, path in modules().items()
        if re.search(r"^\s*(from|import) (flask|werkzeug)\b", path.read_text(), re.M)
        and not name.startswith("archive.web")
    ]
    assert users == []


def test_only_config_reads_and_only_the_cli_sets_the_environment():
    readers = [name for name, path in modules().items() if "os.environ" in path.read_text()]
    assert sorted(readers) == ["archive.cli", "archive.config"]


def test_pyproject_lists_every_package_and_ships_templates_and_static():
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    shipped = set(config["packages"])
    assert shipped == on_disk | {"archive.web.templates", "archive.web.static"}
    assert config["package-dir"] == {"archive.web.templates": "templates", "archive.web.static": "static"}
    for package, patterns in config["package-data"].items():
        folder = PROJECT_ROOT / config["package-dir"].get(package, package.replace(".", "/"))
        assert all(list(folder.glob(pattern)) for pattern in patterns), (package, patterns)
    assert {p.suffix for p in (PROJECT_ROOT / "templates").iterdir()} <= {".html"}
    assert {p.suffix for p in (PROJECT_ROOT / "static").iterdir()} <= {".css", ".svg"}
