"""What the hot path must not do, checked over its source.

``needle in haystack`` with a bytes needle costs, on Python 3.11, a TypeError raised and
cleared before the search (the needle is first tried as a byte value): about 2,000
instructions a test, which was 1.6 M of a 500-token stream's 12.5 M under callgrind.
Every module that serves a call (the gateway and the provider adapters) uses
``haystack.find(needle)`` instead; this test finds any bytes literal tested with ``in``
or ``not in`` there, so the next one is caught too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "keyhouse"
HOT = sorted(
    [*(SRC / "gateway").rglob("*.py"), *(SRC / "providers").rglob("*.py"), SRC / "runtime.py"]
)


def _bytes_containment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left in zip(node.ops, operands, strict=False):
            if isinstance(op, ast.In | ast.NotIn) and (
                isinstance(left, ast.Constant) and isinstance(left.value, bytes)
            ):
                lines.append(node.lineno)
    return lines


def test_the_check_finds_what_it_looks_for() -> None:
    found = _bytes_containment(ast.parse('x = b"a" in y\nz = b"[DONE]" not in w\nok = "a" in s'))
    assert found == [1, 2]


@pytest.mark.parametrize("path", HOT, ids=lambda p: str(p.relative_to(SRC)))
def test_no_bytes_literal_is_tested_with_in_on_the_hot_path(path: Path) -> None:
    lines = _bytes_containment(ast.parse(path.read_text(), str(path)))
    assert not lines, f"{path.name}: use haystack.find(needle) on line(s) {lines}"
