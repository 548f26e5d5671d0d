"""The dllm-llada2 plugin: registry conformance, ``dllm plugins``, and checkpoints finding their
family by ``config.json``'s model_type (no dllm.json, no remote code)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from dllm_core.checkpoint import load_model, resolve_family
from dllm_core.testing.plugins import PluginConformanceTests
from dllm_llada2.modeling_llada2_moe import LLaDA2MoeModelLM
from dllm_llada2.modeling_lladamoe import LLaDAMoEModelLM


class TestPluginConformance(PluginConformanceTests):
    plugin_name = "llada2"


def test_dllm_plugins_lists_both_families():
    result = subprocess.run([sys.executable, "-m", "dllm_core.cli.main", "plugins"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("llada2 "))
    assert "dllm-llada2" in row and " ok " in row and "llada2, lladamoe" in row


@pytest.mark.parametrize("folder, family, model_class", [
    ("llada2", "llada2", LLaDA2MoeModelLM),
    ("lladamoe", "lladamoe", LLaDAMoEModelLM),
])
def test_load_model_picks_the_family_from_model_type(golden2_dir, folder, family, model_class):
    path = golden2_dir / folder / "checkpoint"
    assert not (path / "dllm.json").exists() and "auto_map" not in json.loads((path / "config.json").read_text())
    assert resolve_family(path).name == family
    assert type(load_model(path)) is model_class


def test_llada21_model_type_loads_and_keeps_its_name(golden2_dir, tmp_path):
    """Checkpoints saved as ``llada21_moe`` (LLaDA2.1 copies) belong to the llada2 family too;
    LLaDA2.1's config reads num_key_value_heads 0 as one key/value head per query head."""
    source = golden2_dir / "llada2" / "checkpoint"
    shutil.copy(source / "model.safetensors", tmp_path)
    config = json.loads((source / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "llada21_moe"}))
    assert resolve_family(tmp_path).name == "llada2"
    model = load_model(tmp_path)
    assert model.config.model_type == "llada21_moe" and model.config.num_key_value_heads == 2
    model.save_pretrained(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "config.json").read_text())["model_type"] == "llada21_moe"
    from dllm_llada2.configuration_llada2_moe import LLaDA21MoeConfig

    assert LLaDA21MoeConfig(num_attention_heads=4, num_key_value_heads=0).num_key_value_heads == 4
