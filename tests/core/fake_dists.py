"""Build fake installed distributions (a ``*.dist-info`` folder plus a module) in a folder.

Put the folder on ``PYTHONPATH`` and ``importlib.metadata`` sees the distribution and its
``dllm`` entry point exactly as it would see a pip-installed plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def make_fake_dist(site: Path, dist: str, module: str, source: str, *, version: str = "1.0.0",
                   requires: tuple[str, ...] = ("dllm-core>=0.1",), entry_point: str | None = None) -> None:
    """Write ``module.py`` with ``source`` and a dist-info declaring it as a ``dllm`` plugin."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    requires_lines = "".join(f"Requires-Dist: {r}\n" for r in requires)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n{requires_lines}")
    (info / "entry_points.txt").write_text(f"[dllm]\n{entry_point or dist} = {module}\n")


def run_dllm(*args: str, site: Path | None = None, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m dllm_core.cli.main ARGS`` in a subprocess with ``site`` on the path."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DLLM_")}
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), full_env.get("PYTHONPATH")]))
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "dllm_core.cli.main", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd)
