"""Both MoE families against their official checkpoints (golden2): every weight loads and none is
left over, the official ``config.json`` loads unchanged and saves back, and after
``register_with_transformers`` (idempotent) the Auto classes build our classes."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForMaskedLM

from dllm_llada2 import modeling_llada2_moe, modeling_lladamoe
from dllm_llada2.configuration_llada2_moe import LLaDA2MoeConfig
from dllm_llada2.configuration_lladamoe import LLaDAMoEConfig

#: golden2 folder -> (config class, model class, its module's register_with_transformers)
FAMILIES = {
    "llada2": (LLaDA2MoeConfig, modeling_llada2_moe.LLaDA2MoeModelLM, modeling_llada2_moe.register_with_transformers),
    "lladamoe": (LLaDAMoEConfig, modeling_lladamoe.LLaDAMoEModelLM, modeling_lladamoe.register_with_transformers),
}
TOL = dict(atol=1e-3, rtol=1e-3)  # manifest.json: families.<name>.logits.suggested_tolerance


@pytest.fixture(params=sorted(FAMILIES))
def family(request, golden2_dir):
    """(checkpoint folder, config class, model class, register function) of one family."""
    return (golden2_dir / request.param / "checkpoint", *FAMILIES[request.param])


def test_official_checkpoint_loads_every_weight(family):
    path, _, model_class, _ = family
    model, info = model_class.from_pretrained(path, output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    assert set(model.state_dict()) == set(load_file(path / "model.safetensors"))


def test_official_config_loads_unchanged(family, tmp_path):
    path, config_class, _, _ = family
    official = json.loads((path / "config.json").read_text())
    config = config_class.from_pretrained(path)
    saved = config.to_dict()
    for key in set(official) - {"torch_dtype", "transformers_version", "rope_scaling"}:
        assert saved[key] == official[key], key
    config.save_pretrained(tmp_path)
    assert config_class.from_pretrained(tmp_path).to_dict() == saved


def test_register_with_transformers_is_idempotent(family):
    path, config_class, model_class, register = family
    register()
    register()
    assert type(AutoConfig.from_pretrained(path)) is config_class
    masked_lm = AutoModelForMaskedLM.from_pretrained(path).eval()
    assert type(masked_lm) is model_class
    data = load_file(path.parent / "logits.safetensors")
    with torch.no_grad():
        logits = masked_lm(input_ids=data["input_ids"]).logits
    torch.testing.assert_close(logits, data["logits"], **TOL)
