"""The LLaDA family description (pure data: importing it imports neither torch nor transformers)."""

from __future__ import annotations

from dllm_core.family import ModelFamily

LLADA = ModelFamily(
    name="llada",
    description="LLaDA: bidirectional Llama-style masked diffusion LM (GSAI-ML/LLaDA-8B-*)",
    model_types=("llada",),
    config_class="dllm_llada.configuration_llada:LLaDAConfig",
    model_class="dllm_llada.modeling_llada:LLaDAModelLM",
    register_auto="dllm_llada.modeling_llada:register_with_transformers",
    logit_shift=False,
    supports_kv_cache=True,
    supports_logits_to_keep=True,
    presets={"tiny": {}, "1b": {}, "8b": {}},
    default_objective="masked-diffusion",
    default_generator="llada",
    generator_defaults={"steps": 128, "gen_length": 128, "block_length": 32},
    eval_model_name="llada",
)
