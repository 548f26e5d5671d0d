"""The dllm-diffusiongemma plugin: registry conformance, ``dllm plugins``, the transformers
version gate, the tiny presets and checkpoints found by ``model_type``."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest
import torch
from transformers import DiffusionGemmaForBlockDiffusion

from dllm_core.api import CheckpointInfo, DllmError, InferenceSession, save_checkpoint
from dllm_core.checkpoint import load_model, resolve_family
from dllm_core.registry import PluginHost
from dllm_core.testing.plugins import PluginConformanceTests
from dllm_diffusiongemma import MIN_TRANSFORMERS
from dllm_core.session import content_seed
from dllm_diffusiongemma.builder import build_from_preset, preset_config
from dllm_diffusiongemma.generate import DiffusionGemmaSettings, generate
from dllm_diffusiongemma.plugin import transformers_problem


class TestPluginConformance(PluginConformanceTests):
    plugin_name = "diffusiongemma"


def test_dllm_plugins_lists_the_family_and_generator():
    result = subprocess.run([sys.executable, "-m", "dllm_core.cli.main", "plugins"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("diffusiongemma "))
    assert " ok " in row and "families: diffusiongemma" in row and "generators: diffusiongemma" in row


@pytest.mark.parametrize("installed, fine", [("5.24.9", False), ("4.57.0", False), (None, False),
                                             (MIN_TRANSFORMERS, True), ("5.26.1", True)])
def test_transformers_version_gate(installed, fine):
    problem = transformers_problem(installed)
    assert (problem is None) == fine
    if not fine:
        assert f"transformers>={MIN_TRANSFORMERS}" in problem


def test_old_transformers_marks_the_plugin_unavailable_and_spares_the_host(monkeypatch):
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "5.20.0" if name == "transformers" else real(name))
    host = PluginHost()
    host.load_module("core", "dllm_core.builtins", "dllm-core", "0.1.0")
    info = host.load_module("diffusiongemma", "dllm_diffusiongemma.plugin", "dllm-diffusiongemma", "0.1.0")
    assert info.status == "error" and "needs transformers>=5.25" in info.error and "5.20.0" in info.error
    assert "diffusiongemma" not in host.registries["families"].names()
    assert "diffusiongemma" not in host.registries["generators"].names()
    assert "llada" in host.registries["generators"].names()  # the host's own registrations stand


def test_tiny_presets_are_sized_to_the_tokenizer(char_tokenizer):
    dense = preset_config("tiny", char_tokenizer)
    moe = preset_config("tiny-moe", char_tokenizer)
    for config in (dense, moe):
        text = config.text_config
        assert text.vocab_size == len(char_tokenizer)
        assert (text.pad_token_id, text.eos_token_id, text.bos_token_id) == (
            char_tokenizer.pad_token_id, char_tokenizer.eos_token_id, char_tokenizer.bos_token_id)
    assert (dense.text_config.num_experts, dense.text_config.top_k_experts) == (1, 1)
    assert (moe.text_config.num_experts, moe.text_config.top_k_experts) == (4, 2)
    with pytest.raises(DllmError, match="unknown diffusiongemma preset 'huge'"):
        preset_config("huge", char_tokenizer)


def test_checkpoint_loads_by_model_type_and_samples(tmp_path, char_tokenizer):
    torch.manual_seed(0)
    model = build_from_preset("tiny", char_tokenizer)
    save_checkpoint(model, char_tokenizer, tmp_path / "ck", CheckpointInfo(family="diffusiongemma"))
    (tmp_path / "ck" / "dllm.json").unlink()  # found from config.json's model_type alone
    assert resolve_family(tmp_path / "ck").name == "diffusiongemma"
    assert type(load_model(tmp_path / "ck")) is DiffusionGemmaForBlockDiffusion
    session = InferenceSession.load(tmp_path / "ck")
    assert session.generator.name == "diffusiongemma"
    params = session.params(roles={"length": 10, "steps": 3})
    rows = [session.encode("3400\n12"), session.encode("12")]  # the session runs longest first
    completions = session.generate(rows, params, seed=3)
    # the same tokens as the loop on the left-padded batch, seeded as the session seeds it
    ids, mask = session.pad_left(rows)
    direct = generate(session.model, ids, DiffusionGemmaSettings(max_new_tokens=10, max_denoising_steps=3,
                                                                 eos_token_id=(1,), pad_token_id=0),
                      attention_mask=mask, generator=torch.Generator().manual_seed(content_seed(3, *rows)))
    for row, completion in enumerate(completions):
        assert completion.token_ids == session.cut_at_stop(direct.sequences[row, ids.shape[1]:].tolist()[:10])
    assert completions[0].nfe == direct.nfe > 0
    with pytest.raises(DllmError, match="entropy_bound must be > 0"):
        session.generate([[5, 6]], session.params(values={"entropy_bound": 0.0}))


def test_the_checkpoints_generation_config_sets_the_defaults_nested_sampler_config_included(tmp_path, char_tokenizer):
    """An official checkpoint's ``generation_config.json`` as transformers writes it: the entropy
    bound sits in ``sampler_config`` (a serialised ``EntropyBoundSamplerConfig``)."""
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
        DiffusionGemmaGenerationConfig,
        EntropyBoundSamplerConfig,
    )

    torch.manual_seed(0)
    save_checkpoint(build_from_preset("tiny", char_tokenizer), char_tokenizer, tmp_path / "ck",
                    CheckpointInfo(family="diffusiongemma"))
    (tmp_path / "ck" / "dllm.json").unlink()
    DiffusionGemmaGenerationConfig(max_denoising_steps=7, t_max=0.6, sampler_config=EntropyBoundSamplerConfig(
        entropy_bound=0.35)).save_pretrained(tmp_path / "ck")
    assert "sampler_config" in json.loads((tmp_path / "ck" / "generation_config.json").read_text())
    params = InferenceSession.load(tmp_path / "ck").params()
    assert (params.entropy_bound, params.max_denoising_steps, params.t_max) == (0.35, 7, 0.6)
