"""``benchmarks/quality.py``'s autoregressive twin of the tiny LLaDA preset (needs the plugin)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import _quality_common as quality


def test_the_ar_twin_has_the_mdm_shape_and_parameter_count():
    from transformers import LlamaForCausalLM

    from dllm_core.data.tokenizer import build_char_tokenizer
    from dllm_core.registry import get_registry, load_reference
    from dllm_core.model_config import preset_config

    family = get_registry().families.get("llada")
    config = preset_config(family, "tiny", build_char_tokenizer())
    mdm = load_reference(family.model_class)(config)
    ar = LlamaForCausalLM(quality.llama_twin(config))
    assert quality.parameter_count(ar) == quality.parameter_count(mdm)
