"""``dllm_core.api`` is the one surface plugins import from dllm-core, and importing it is cheap.

Every ``.py`` file under ``plugins/`` may import ``dllm_core.api`` and no other ``dllm_core``
module (top-level and function-level imports alike), so the core can move its internals without
breaking a plugin. The files are read next to this test, which also holds when CI runs
``tests/core`` against an installed dllm-core wheel with the repository checked out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import dllm_core.api

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
PUBLIC_MODULE = "dllm_core.api"
#: folders of build outputs, which copy the sources they were built from
BUILD_OUTPUTS = {"build", "dist"}


def _plugin_sources() -> list[Path]:
    """Every ``.py`` file of every plugin, build outputs left out."""
    return sorted(
        path for path in PLUGINS.rglob("*.py")
        if not BUILD_OUTPUTS.intersection(path.relative_to(PLUGINS).parts)
    )


def _imported_core_modules(node: ast.AST) -> list[str]:
    """The ``dllm_core`` modules one import statement imports (``from dllm_core import x`` is ``dllm_core.x``)."""
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "dllm_core":
        modules = [f"dllm_core.{alias.name}" for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        modules = [node.module]
    else:
        return []
    return [m for m in modules if m == "dllm_core" or m.startswith("dllm_core.")]


def _private_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of each import in ``path`` of a ``dllm_core`` module other than the API."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        for module in _imported_core_modules(node):
            if module != PUBLIC_MODULE:
                yield node.lineno, module


def test_plugins_import_dllm_core_only_through_the_api():
    sources = _plugin_sources()
    assert sources, f"no plugin sources found under {PLUGINS}"
    offenders = [
        f"{path.relative_to(PLUGINS.parent)}:{line}: {module}"
        for path in sources
        for line, module in sorted(_private_imports(path))
    ]
    assert not offenders, (
        f"plugins must import dllm-core through {PUBLIC_MODULE} only "
        f"(add a missing name to dllm_core/api.py):\n" + "\n".join(offenders)
    )


@pytest.mark.parametrize("name", dllm_core.api.__all__)
def test_every_public_name_resolves(name):
    assert getattr(dllm_core.api, name) is not None


def test_importing_the_api_imports_neither_torch_nor_transformers():
    code = (
        "import sys, dllm_core.api\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"import dllm_core.api imported {result.stdout.strip()}"
