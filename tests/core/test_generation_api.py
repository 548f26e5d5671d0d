"""``generate``: preset lookup through the registry, family resolution and overrides, defaults
and errors."""

from __future__ import annotations

import types

import pytest
import torch

from dllm_core.family import ModelFamily
from dllm_core.generation import DREAM, FASTDLLM, LLADA, MDLM, Preset, api, generate
from dllm_core.generation.capabilities import ModelCapabilities, family_of, model_capabilities
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry
from dllm_core.testing.generation import ToyConfig, ToyDiffusionLM

PROMPT = torch.tensor([[3, 14, 15, 9]])


class _Generators:
    def __init__(self, entries):
        self.entries = entries

    def get(self, name):
        return self.entries[name]


def test_preset_names_resolve_through_the_registry(monkeypatch):
    host = types.SimpleNamespace(generators=_Generators({"my-llada": LLADA, "commit/x": object()}))
    monkeypatch.setattr(api, "get_registry", lambda: host)
    by_name = generate(ToyDiffusionLM(), PROMPT, preset="my-llada", steps=4, gen_length=4, block_length=4)
    by_object = generate(ToyDiffusionLM(), PROMPT, preset=LLADA, steps=4, gen_length=4, block_length=4)
    assert torch.equal(by_name.sequences, by_object.sequences)
    with pytest.raises(DllmError, match="not a masked-diffusion preset"):
        generate(ToyDiffusionLM(), PROMPT, preset="commit/x")


def test_builtin_presets_are_registered():
    generators = get_registry().generators
    for preset in (LLADA, FASTDLLM, DREAM, MDLM):
        assert generators.get(preset.name) is preset


def test_family_resolution_and_overrides():
    toy = ToyDiffusionLM()
    assert family_of(toy) is None  # no installed family claims "dllm-toy"
    assert model_capabilities(None) == ModelCapabilities()
    family = ModelFamily(name="toy", model_types=("dllm-toy",), logit_shift=True, supports_kv_cache=True)
    assert family_of(toy, family) is family
    caps = model_capabilities(family, supports_logits_to_keep=True, logit_shift=False)
    assert caps == ModelCapabilities(logit_shift=False, kv_cache=True, logits_to_keep=True)


def test_explicit_family_turns_on_the_cache():
    toy = ToyDiffusionLM()
    family = ModelFamily(name="toy", model_types=("dllm-toy",), supports_kv_cache=True,
                         supports_logits_to_keep=True)
    lengths = []
    hook = toy.register_forward_hook(lambda m, args, out: lengths.append(args[0].shape[1]))
    generate(toy, PROMPT, preset=FASTDLLM, family=family, steps=4, gen_length=8, block_length=4,
             use_cache="dual")
    hook.remove()
    assert lengths == [12, 4, 12, 4]  # per block: the recording call, then the block alone


def test_token_ids_default_to_the_model_config():
    toy = ToyDiffusionLM(ToyConfig(mask_token_id=35))
    out = generate(toy, PROMPT, preset=LLADA, steps=2, gen_length=4, block_length=4)
    assert not bool((out.sequences == 35).any())
    explicit = generate(ToyDiffusionLM(), PROMPT, preset=LLADA, steps=2, gen_length=4, block_length=4,
                        mask_id=35)
    assert not bool((explicit.sequences == 35).any())


def test_clear_errors():
    model = types.SimpleNamespace(config=types.SimpleNamespace(model_type="none"), device=torch.device("cpu"))
    with pytest.raises(ValueError, match="pass mask_token_id"):
        generate(model, PROMPT, preset=MDLM, eos_token_id=1)
    with pytest.raises(TypeError, match="generator 'llada' has no parameter 'gen_lenght'. Did you mean 'gen_length'"):
        generate(ToyDiffusionLM(), PROMPT, preset=LLADA, gen_lenght=8)
    with pytest.raises(ValueError, match="multiple of block_length"):
        generate(ToyDiffusionLM(), PROMPT, preset=LLADA, gen_length=10, block_length=4)
    with pytest.raises(ValueError, match="multiple of the number of blocks"):
        generate(ToyDiffusionLM(), PROMPT, preset=LLADA, steps=5, gen_length=8, block_length=4)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        generate(ToyDiffusionLM(), PROMPT, preset=DREAM, steps=0)
    with pytest.raises(ValueError, match="remasking"):
        generate(ToyDiffusionLM(), PROMPT, preset=LLADA, remasking="lowest")
    with pytest.raises(ValueError, match="alg"):
        generate(ToyDiffusionLM(), PROMPT, preset=DREAM, alg="greedy")
    with pytest.raises(ValueError, match="at least 2 steps per block"):
        generate(ToyDiffusionLM(), PROMPT, preset=DREAM, steps=2, max_new_tokens=8, block_length=4, alg="entropy")
    without_eos = ToyDiffusionLM()
    without_eos.config.eos_token_id = None
    with pytest.raises(ValueError, match="stop_at_eos needs eos_token_id"):
        generate(without_eos, PROMPT, preset=LLADA, stop_at_eos=True, steps=2, gen_length=4, block_length=4)


def test_preset_objects_carry_name_and_description():
    for preset in (LLADA, FASTDLLM, DREAM, MDLM):
        assert isinstance(preset, Preset) and preset.description
