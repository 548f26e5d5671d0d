"""Third-party plugin authoring: the generated template works, and every hook is documented."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dllm_core import hookspecs
from dllm_core.cli.new_plugin_command import core_version_range, render_plugin
from dllm_core.errors import DllmError
from fake_dists import run_dllm

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _hookspecs() -> dict[str, list[str]]:
    return {
        name: list(inspect.signature(function).parameters)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("dllm_")
    }


def test_every_hookspec_and_argument_is_documented():
    text = DOCS.read_text()
    specs = _hookspecs()
    assert len(specs) >= 7
    for name, arguments in specs.items():
        match = re.search(rf"^#+ `{name}\((.*?)\)`", text, flags=re.MULTILINE)
        assert match, f"hook {name} has no heading in docs/plugins.md"
        documented = [a.strip() for a in match.group(1).split(",") if a.strip()]
        assert documented == arguments, f"{name}: docs say {documented}, hookspec has {arguments}"


def test_generated_plugin_installs_lists_and_passes_its_own_tests(tmp_path):
    package = render_plugin("acme-sched", tmp_path)
    assert (package / "dllm_acme_sched" / "plugin.py").is_file()
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(package)],
        capture_output=True, text=True,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    listed = run_dllm("plugins", "--json", site=site)
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["acme-sched"]["status"] == "ok", plugins["acme-sched"]
    assert plugins["acme-sched"]["distribution"] == "dllm-acme-sched"
    assert plugins["acme-sched"]["registered"] == {"schedules": ["acme-sched-quadratic"]}
    env = {**os.environ, "PYTHONPATH": str(site)}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert re.search(r"\d+ passed", tests.stdout)


def test_new_plugin_command_rejects_bad_names_and_existing_folders(tmp_path):
    with pytest.raises(DllmError, match="invalid plugin name"):
        render_plugin("Bad_Name", tmp_path)
    render_plugin("ok", tmp_path)
    result = run_dllm("new-plugin", "ok", "--output-dir", str(tmp_path))
    assert result.returncode == 2 and "already exists" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dllm-ok"]  # nothing half-written


def test_core_version_range_admits_this_release_only():
    assert core_version_range("0.1.0") == ">=0.1,<0.2"
    assert core_version_range("1.4.2") == ">=1.4,<1.5"
