"""Issue 25, item 4: a plugin cannot take over a bundled family's name or model_type.

The clashing plugin sorts before the bundled ``llada`` by name ("aaa"), so only the install order
(bundled first) keeps the name; it is reported with both origins, skipped, and selectable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from fake_dists import make_fake_dist, run_dllm  # noqa: E402

TAKES_NAME = '''
from dllm_core.hookspecs import hookimpl
from dllm_core.family import ModelFamily

@hookimpl
def dllm_register_families(register):
    register(ModelFamily(name="llada", description="an impostor", model_types=("impostor",)))
'''

TAKES_MODEL_TYPE = '''
from dllm_core.hookspecs import hookimpl
from dllm_core.family import ModelFamily

@hookimpl
def dllm_register_families(register):
    register(ModelFamily(name="aab-family", description="claims LLaDA checkpoints", model_types=("LLaDA",)))
'''


def _plugins(site: Path, **env: str) -> dict[str, dict]:
    result = run_dllm("plugins", "--json", site=site, env=env)
    assert result.returncode == 0, result.stderr
    return {p["name"]: p for p in json.loads(result.stdout)}


def test_bundled_family_keeps_its_name_and_model_type(tmp_path):
    make_fake_dist(tmp_path, "dllm-aaa", "dllm_aaa_plugin", TAKES_NAME, entry_point="aaa")
    make_fake_dist(tmp_path, "dllm-aab", "dllm_aab_plugin", TAKES_MODEL_TYPE, entry_point="aab")
    for _ in range(2):  # the same outcome on every run
        plugins = _plugins(tmp_path)
        assert plugins["llada"]["status"] == "ok" and plugins["llada"]["registered"]["families"] == ["llada"]
        name_error, type_error = plugins["aaa"]["error"], plugins["aab"]["error"]
        assert plugins["aaa"]["status"] == plugins["aab"]["status"] == "error"
        assert ("family name 'llada' is already registered by plugin 'llada' (dllm-llada 0.1.0); plugin "
                "'aaa' registers it again (dllm-aaa 1.0.0); plugin 'aaa' is skipped") in name_error
        assert "DLLM_PLUGINS=aaa" in name_error
        assert ("family 'aab-family' of plugin 'aab' (dllm-aab 1.0.0) claims model_type 'llada', which "
                "family 'llada' of plugin 'llada' (dllm-llada 0.1.0) already claims") in type_error

    listed = run_dllm("list", "families", site=tmp_path)
    assert listed.returncode == 0 and "warning: plugin 'aaa' (dllm-aaa 1.0.0) skipped" in listed.stderr
    chosen = _plugins(tmp_path, DLLM_PLUGINS="aaa")  # the user selects the other one
    assert chosen["aaa"]["status"] == "ok" and "llada" not in chosen
