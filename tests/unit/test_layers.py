"""The layering rule: the data plane never imports the control plane, and what both
share sits below both (``keyhouse.shared``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "keyhouse"

# package (or module) -> packages it must never import, at any depth or place in the file
RULES = {
    "gateway": ("keyhouse.admin",),
    "providers": ("keyhouse.admin",),
    "shared": ("keyhouse.admin", "keyhouse.gateway", "keyhouse.providers"),
    "http_errors.py": ("keyhouse.admin", "keyhouse.gateway"),
    "middleware.py": ("keyhouse.admin", "keyhouse.gateway"),
    "errors.py": ("keyhouse.",),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("part", sorted(RULES))
def test_no_layer_imports_what_sits_above_it(part: str) -> None:
    target = SRC / part
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert files
    for path in files:
        for name in _imports(path):
            for banned in RULES[part]:
                assert not name.startswith(banned), f"{path.relative_to(SRC)} imports {name}"
