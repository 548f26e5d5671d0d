"""The plugin host: lazy registries, did-you-mean, isolation of bad plugins, strict mode."""

from __future__ import annotations

import json

import pytest

from dllm_core.family import ModelFamily
from dllm_core.registry import (
    DllmError,
    PluginError,
    PluginHost,
    UnknownNameError,
    get_registry,
    load_reference,
    reset_registry,
)
from fake_dists import make_fake_dist, run_dllm

GOOD_PLUGIN = '''
from dllm_core.hookspecs import hookimpl
from dllm_core.family import ModelFamily

@hookimpl
def dllm_register_families(register):
    register(ModelFamily(name="toyfam", description="a toy", model_types=("toy",)))

@hookimpl
def dllm_register_schedules(register):
    register("toy-schedule", "json:dumps", description="lazy target")
'''


def _plugin_json(result) -> dict[str, dict]:
    assert result.returncode == 0, result.stderr
    return {p["name"]: p for p in json.loads(result.stdout)}


def test_core_builtins_register_through_the_hooks():
    host = get_registry()
    core = host.plugin("core")
    assert core.status == "ok" and core.distribution == "dllm-core"
    assert {"plugins", "list", "new-plugin"} <= set(core.registered["commands"])


def test_entry_points_are_scanned_once_per_process():
    assert get_registry() is get_registry()
    reset_registry()
    first = get_registry()
    assert first is get_registry()


def test_lazy_targets_import_on_first_use(monkeypatch):
    host = PluginHost()
    host.load_module("core", "dllm_core.builtins", "dllm-core", "0")
    entry = host.commands.entry("plugins")
    assert isinstance(entry.target, str) and not entry._is_resolved
    assert hasattr(entry.resolve(), "run") and entry._is_resolved


def test_unknown_name_suggests_the_closest():
    host = get_registry()
    with pytest.raises(UnknownNameError, match="Did you mean 'plugins'"):
        host.commands.get("plugin")
    with pytest.raises(UnknownNameError, match="unknown family 'nonexistent'"):
        host.families.get("nonexistent")


def test_load_reference_accepts_module_and_attribute():
    assert load_reference("json:dumps")([1]) == "[1]"
    assert load_reference("json").__name__ == "json"
    with pytest.raises(DllmError):
        load_reference(":x")


def test_family_lookup_by_model_type(tmp_path):
    make_fake_dist(tmp_path, "dllm-toy", "dllm_toy_plugin", GOOD_PLUGIN)
    code = ("from dllm_core.registry import get_registry; h = get_registry(); "
            "print(h.families.for_model_type('TOY').name, h.schedules.get('toy-schedule')([2]))")
    import subprocess, sys, os
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["toyfam", "[2]"]


def test_a_plugin_that_raises_on_import_is_reported_and_skipped(tmp_path):
    make_fake_dist(tmp_path, "dllm-broken", "dllm_broken_plugin", "raise RuntimeError('boom at import')\n")
    make_fake_dist(tmp_path, "dllm-toy", "dllm_toy_plugin", GOOD_PLUGIN)
    plugins = _plugin_json(run_dllm("plugins", "--json", site=tmp_path))
    broken = plugins["dllm-broken"]
    assert broken["status"] == "error" and broken["version"] == "1.0.0"
    assert "RuntimeError: boom at import" in broken["error"]
    assert broken["registered"] == {}
    assert plugins["dllm-toy"]["status"] == "ok"
    assert plugins["dllm-toy"]["registered"] == {"families": ["toyfam"], "schedules": ["toy-schedule"]}
    assert plugins["core"]["status"] == "ok"


def test_a_broken_plugin_warns_other_commands_in_one_line(tmp_path):
    make_fake_dist(tmp_path, "dllm-broken", "dllm_broken_plugin", "raise RuntimeError('boom')\n")
    result = run_dllm("list", "commands", site=tmp_path)
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if line]
    assert len(warnings) == 1 and "dllm-broken" in warnings[0] and "skipped" in warnings[0]


def test_strict_mode_turns_a_broken_plugin_into_a_one_line_error(tmp_path):
    make_fake_dist(tmp_path, "dllm-broken", "dllm_broken_plugin", "raise RuntimeError('boom')\n")
    result = run_dllm("plugins", site=tmp_path, env={"DLLM_STRICT_PLUGINS": "1"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "plugin 'dllm-broken' (dllm-broken 1.0.0) failed to load" in result.stderr
    debug = run_dllm("--debug", "plugins", site=tmp_path, env={"DLLM_STRICT_PLUGINS": "1"})
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_a_plugin_needing_another_core_version_is_not_imported(tmp_path):
    make_fake_dist(tmp_path, "dllm-future", "dllm_future_plugin",
                   "raise AssertionError('must not be imported')\n", requires=("dllm-core>=99",))
    future = _plugin_json(run_dllm("plugins", "--json", site=tmp_path))["dllm-future"]
    assert future["status"] == "error"
    assert "requires dllm-core>=99" in future["error"] and "must not be imported" not in future["error"]


def test_a_taken_name_is_reported_with_both_origins_and_nothing_lands(tmp_path):
    clash = GOOD_PLUGIN.replace('"toy-schedule"', '"toy-schedule-2"').replace('"toyfam"', '"toyfam"')
    make_fake_dist(tmp_path, "dllm-toy", "dllm_toy_plugin", GOOD_PLUGIN)
    make_fake_dist(tmp_path, "dllm-zclash", "dllm_zclash_plugin", clash)
    plugins = _plugin_json(run_dllm("plugins", "--json", site=tmp_path))
    assert plugins["dllm-toy"]["status"] == "ok"
    zclash = plugins["dllm-zclash"]
    assert zclash["status"] == "error" and zclash["registered"] == {}
    assert "family name 'toyfam' is already registered by plugin 'dllm-toy'" in zclash["error"]
    assert "'dllm-zclash' registers it again" in zclash["error"]
    names = run_dllm("list", "schedules", site=tmp_path).stdout
    assert "toy-schedule-2" not in names  # the clashing plugin's other registrations were dropped


def test_dllm_plugins_env_limits_loading_before_import(tmp_path):
    make_fake_dist(tmp_path, "dllm-broken", "dllm_broken_plugin", "raise RuntimeError('boom')\n")
    make_fake_dist(tmp_path, "dllm-toy", "dllm_toy_plugin", GOOD_PLUGIN)
    plugins = _plugin_json(run_dllm("plugins", "--json", site=tmp_path, env={"DLLM_PLUGINS": "dllm-toy"}))
    assert plugins["dllm-toy"]["status"] == "ok"
    assert "dllm-broken" not in plugins  # never imported, so no error and not listed
    assert plugins["core"]["status"] == "ok"


def test_dllm_plugins_env_with_an_unknown_name_is_a_clear_error(tmp_path):
    make_fake_dist(tmp_path, "dllm-toy", "dllm_toy_plugin", GOOD_PLUGIN)
    result = run_dllm("plugins", site=tmp_path, env={"DLLM_PLUGINS": "dllm-tyo"})
    assert result.returncode == 2
    assert "unknown plugin 'dllm-tyo'. Did you mean 'dllm-toy'?" in result.stderr
    assert "Fix DLLM_PLUGINS" in result.stderr


def test_family_register_requires_a_model_family():
    host = PluginHost()
    from dllm_core.registry import _Staging

    register = _Staging(host, "x").register_callback("families")
    with pytest.raises(TypeError):
        register("llada", "some.module:Thing")
    register(ModelFamily(name="ok", model_types=("ok",)))


def test_strict_in_process_raises_plugin_error(monkeypatch):
    monkeypatch.setenv("DLLM_STRICT_PLUGINS", "1")
    host = PluginHost()
    with pytest.raises(PluginError, match="import failed"):
        host.load_module("ghost", "dllm_no_such_module_xyz", "dllm-ghost", "0.0.1")


def test_the_generators_kind_holds_only_generators(tmp_path, monkeypatch):
    import sys
    import types

    from dllm_core.generation.presets import LLADA

    module = types.ModuleType("bad_generators")
    module.NOT_A_GENERATOR = object()
    exec(
        "from dllm_core.api import hookimpl\n"
        "@hookimpl\n"
        "def dllm_register_generators(register):\n"
        "    register('lazy-thing', 'bad_generators:NOT_A_GENERATOR')\n"
        "    register('real', 'dllm_core.generation.presets:LLADA')\n",
        module.__dict__,
    )
    monkeypatch.setitem(sys.modules, "bad_generators", module)
    host = PluginHost()
    assert host.load_module("bad", "bad_generators", None, None).status == "ok"
    assert host.generators.get("real") is LLADA
    with pytest.raises(PluginError, match="generator 'lazy-thing' of plugin 'bad' is a object, not a "
                                          "dllm_core.api.Generator; register parts of generators with "
                                          "dllm_register_engine_parts"):
        host.generators.get("lazy-thing")

    eager = types.ModuleType("eager_generators")
    exec("from dllm_core.api import hookimpl\n"
         "@hookimpl\n"
         "def dllm_register_generators(register):\n"
         "    register('eager', len)\n", eager.__dict__)
    monkeypatch.setitem(sys.modules, "eager_generators", eager)
    info = host.load_module("eager", "eager_generators", None, None)
    assert info.status == "error" and "not a dllm_core.api.Generator" in info.error
    assert "eager" not in host.generators


def test_engine_parts_are_their_own_kind():
    host = get_registry()
    assert "commit/top-k" in host.engine_parts and "commit/top-k" not in host.generators
    assert set(host.generators.names()) >= {"llada", "fastdllm", "dream", "mdlm"}
    assert not [name for name in host.generators.names() if "/" in name]


def test_dllm_list_shows_a_generators_parameters_and_roles():
    result = run_dllm("list", "generators", "llada")
    details = json.loads(result.stdout)
    assert details["roles"] == {"length": "gen_length", "block": "block_length", "steps": "steps",
                                "mask_id": "mask_id"}
    assert details["parameters"]["steps"]["default"] == 128 and details["parameters"]["steps"]["help"]
    assert details["options"] == ["--show-denoising"] and details["ragged_rows"] is False
