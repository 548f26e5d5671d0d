"""The core names no plugin: plugins register into dllm-core, never the other way round.

Every ``.py`` file under ``dllm_core/`` is parsed, and each identifier (names, attributes,
function, class and argument names, keyword arguments, imported modules and names) and each
string constant other than a docstring is matched against the names of the project's plugins.
Comments and docstrings may mention a plugin (to explain where a default comes from); code may
not. The allowlist below holds the places whose job is to reproduce a published method by name.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
CORE = REPOSITORY / "dllm_core"
PLUGIN_NAMES = re.compile(r"llada|dream|editflow|bertchat", re.IGNORECASE)

#: module (glob, relative to the repository) -> the top-level functions or classes allowed to name
#: plugins, or None for the whole module
ALLOWED_SCOPES: dict[str, tuple[str, ...] | None] = {
    # the generation presets reproduce the published samplers: llada, fastdllm, dream, mdlm
    "dllm_core/generation/presets/*.py": None,
    # the generation package re-exports those presets
    "dllm_core/generation/__init__.py": None,
    # the engine part reproducing Dream's time grid, and the rules that name it in their errors
    "dllm_core/generation/transfer.py": ("DreamTimeGrid",),
    "dllm_core/generation/commit.py": ("_count", "BernoulliCommit"),
    # registers the presets and their parts under their published names; suite descriptions
    "dllm_core/builtins.py": ("dllm_register_generators", "dllm_register_engine_parts", "dllm_register_suites"),
    # suite data reproducing the papers' evaluation protocols
    "dllm_core/evaluation/suites.py": None,
}

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True, order=True)
class Reference:
    """One identifier or string constant of the core that names a plugin."""

    path: str  # relative to the repository, with forward slashes
    line: int
    scope: str  # the top-level function or class it is in, "" at module level
    text: str

    def __str__(self) -> str:
        text = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        return f"{self.path}:{self.line}: {text!r}"


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring constants of the module, its classes and its functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, *DEFINITIONS)) and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                found.add(id(first.value))
    return found


def _texts(node: ast.AST) -> list[str]:
    """The identifiers and string constants one node carries itself (not those of its children)."""
    if isinstance(node, ast.Name):
        texts = [node.id]
    elif isinstance(node, ast.Attribute):
        texts = [node.attr]
    elif isinstance(node, DEFINITIONS):
        texts = [node.name]
    elif isinstance(node, ast.arg):
        texts = [node.arg]
    elif isinstance(node, ast.keyword):
        texts = [node.arg]
    elif isinstance(node, ast.alias):
        texts = [node.name, node.asname]
    elif isinstance(node, ast.ImportFrom):
        texts = [node.module]
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        texts = [node.value]
    else:
        texts = []
    return [text for text in texts if text]


def _references(path: Path) -> Iterator[Reference]:
    """Every plugin-naming identifier or non-docstring string constant of one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = _docstrings(tree)
    relative = path.relative_to(REPOSITORY).as_posix()

    def visit(node: ast.AST, scope: str, line: int) -> Iterator[Reference]:
        line = getattr(node, "lineno", line)
        if isinstance(node, DEFINITIONS) and not scope:
            scope = node.name
        if id(node) not in docstrings:
            for text in _texts(node):
                if PLUGIN_NAMES.search(text):
                    yield Reference(relative, line, scope, text)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, scope, line)

    yield from visit(tree, "", 1)


def _is_allowed(reference: Reference) -> bool:
    """Whether the reference lies in a module, or top-level function, of the allowlist."""
    return any(
        fnmatch.fnmatch(reference.path, pattern) and (scopes is None or reference.scope in scopes)
        for pattern, scopes in ALLOWED_SCOPES.items()
    )


def test_the_core_names_no_plugin():
    sources = sorted(CORE.rglob("*.py"))
    assert sources, f"no sources found under {CORE}"
    offenders = [str(ref) for ref in sorted(ref for path in sources for ref in _references(path))
                 if not _is_allowed(ref)]
    assert not offenders, (
        "dllm-core names a plugin outside the allowlist (make it generic, let the plugin register "
        "it, or allow a reference method in this test):\n" + "\n".join(offenders)
    )
