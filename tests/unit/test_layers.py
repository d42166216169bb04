"""The layers only import downhill: domain at the bottom, then runtime (settings, logs, metrics,
jobs), then api and workers (never each other), the paymentkit command line on top."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What each of our packages may import of ours.
ALLOWED = {
    "domain": {"domain"},
    "runtime": {"runtime", "domain"},
    "api": {"api", "runtime", "domain"},
    "workers": {"workers", "runtime", "domain"},
    "celeryconfig": {"runtime"},
    "paymentkit": {"paymentkit", "api", "workers", "runtime", "domain", "celeryconfig"},
}
OURS = set(ALLOWED) | {"migrations", "bench", "tests"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


def modules():
    for layer in ALLOWED:
        paths = [ROOT / f"{layer}.py"] if (ROOT / f"{layer}.py").exists() else sorted((ROOT / layer).rglob("*.py"))
        for path in paths:
            yield pytest.param(layer, path, id=str(path.relative_to(ROOT)))


@pytest.mark.parametrize("layer, path", list(modules()))
def test_imports_run_downhill(layer, path):
    uphill = imports_of(path) - ALLOWED[layer]
    assert not uphill, f"{path.relative_to(ROOT)} ({layer}) imports {sorted(uphill)}"
