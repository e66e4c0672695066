"""Layers only point down: a module may import its own package and the layers below it.

    types, errors, affect → media → data → encode → store → eval → pair → learn → retrieve → api
    → serve, demo → cli

Imports inside functions count too (they still make the lower layer depend on the upper one).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import emoalign

PACKAGE = Path(emoalign.__file__).parent

#: layer of each top-level module or package of emoalign (higher numbers may import lower ones)
LAYERS: dict[str, int] = {
    "types": 0, "errors": 0, "affect": 0, "progress": 0, "numeric": 0, "lazy": 0, "interrupts": 0, "outputs": 0,
    "media": 1,
    "data": 2,
    "encode": 3,
    "store": 4,
    "eval": 5,
    "pair": 6,
    "learn": 7,  # the adapter is evaluated against pairing's T-score (emoalign.pair.score)
    "retrieve": 8,
    "api": 9,
    "serve": 10, "demo": 10,
    "cli": 11,
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "__init__.py":
            continue
        yield rel.parts[0].removesuffix(".py"), path


def _imported(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emoalign."):
            yield node.lineno, node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("emoalign."):
                    yield node.lineno, alias.name.split(".")[1]


def test_every_module_has_a_layer():
    unknown = sorted({top for top, _ in _modules()} - set(LAYERS))
    assert not unknown, f"give these modules a layer in LAYERS: {unknown}"


def test_imports_point_down():
    upward = []
    for top, path in _modules():
        for line, target in _imported(path):
            if target == top or target not in LAYERS:
                continue
            same_row_ok = LAYERS[target] == LAYERS[top] and LAYERS[top] == 0
            if LAYERS[target] > LAYERS[top] or (LAYERS[target] == LAYERS[top] and not same_row_ok and target != top):
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports emoalign.{target}")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(upward)


@pytest.mark.parametrize("name", ["emoalign.media", "emoalign.data", "emoalign.encode", "emoalign.store"])
def test_lower_layers_import_without_matplotlib(name):
    import subprocess
    import sys

    code = f"import sys, {name}; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False", f"importing {name} pulls matplotlib"
