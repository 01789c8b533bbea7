"""The layout rules of ARCHITECTURE.md that code review would otherwise have to catch.

A check imports checks/core (and helpers of its own group), never another group's module;
checks/core imports no group; tests import helpers, servers and conftest, never another
test module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

CHECKS = REPO / "src" / "checks"
GROUPS = sorted(
    path.name for path in CHECKS.iterdir()
    if (path / "__init__.py").exists() and path.name not in ("core", "clients")
)  # fmt: skip


def imported(path: Path) -> list[str]:
    """Every module ``path`` imports, at any depth (function bodies too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def group_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "checks" and parts[1] in GROUPS else None


@pytest.mark.parametrize("group", GROUPS)
def test_no_check_imports_another_groups_module(group):
    for path in sorted((CHECKS / group).glob("*.py")):
        others = {name for name in imported(path) if group_of(name) not in (None, group)}
        assert not others, (
            f"{path.relative_to(REPO)} imports {sorted(others)}: what two groups need "
            "belongs in checks/core (or checks/clients if heavy)"
        )


def test_core_imports_no_check_group():
    for path in sorted((CHECKS / "core").glob("*.py")):
        groups = {name for name in imported(path) if group_of(name)}
        assert not groups, f"{path.relative_to(REPO)} imports {sorted(groups)}"


def test_no_test_module_imports_another_test_module():
    for path in sorted((REPO / "tests").rglob("*.py")):
        tests = {
            name for name in imported(path)
            if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_")
        }  # fmt: skip
        assert not tests, (
            f"{path.relative_to(REPO)} imports {sorted(tests)}: move what is shared to "
            "tests/helpers/ (or tests/servers/ for a server)"
        )
