"""The ``dllm`` CLI front: help, version, plugins table/JSON, errors, and a light start-up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dllm_core import __version__
from fake_dists import run_dllm


def test_version():
    result = run_dllm("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_help_lists_registered_commands_only():
    result = run_dllm("--help")
    assert result.returncode == 0
    for command in ("plugins", "list", "new-plugin"):
        assert command in result.stdout


def test_no_arguments_prints_help():
    result = run_dllm()
    assert result.returncode == 0 and "COMMAND" in result.stdout


def test_plugins_table_and_json():
    table = run_dllm("plugins")
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split()[:4] == ["PLUGIN", "DISTRIBUTION", "VERSION", "STATUS"]
    plugins = json.loads(run_dllm("plugins", "--json").stdout)
    for plugin in plugins:
        assert {"name", "distribution", "version", "status", "error", "registered"} <= set(plugin)
    core = next(p for p in plugins if p["name"] == "core")
    assert core["status"] == "ok" and core["error"] is None


def test_plugins_filter_by_name():
    plugins = json.loads(run_dllm("plugins", "core", "--json").stdout)
    assert [p["name"] for p in plugins] == ["core"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (("plugin",), "unknown command 'plugin'. Did you mean 'plugins'?"),
        (("list", "famlies"), "unknown kind 'famlies'. Did you mean 'families'?"),
        (("list", "families", "no-such-family"), "unknown family 'no-such-family'"),
        (("plugins", "no-such-plugin"), "unknown plugin 'no-such-plugin'"),
        (("plugins", "--bogus"), "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(args, expected):
    result = run_dllm(*args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [("--help",), ("plugins",), ("plugins", "--json"), ("list", "families"),
                                  ("train", "--help")])
def test_start_up_imports_neither_torch_nor_transformers(args):
    code = (
        "import sys; from dllm_core.cli.main import main; sys.argv = ['dllm', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr); sys.exit(3 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-800:]


def test_list_shows_registered_names():
    result = run_dllm("list", "commands")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == sorted(names) and {"list", "new-plugin", "plugins"} <= set(names)
