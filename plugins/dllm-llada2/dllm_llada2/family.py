"""The LLaDA2 and LLaDA-MoE family descriptions (pure data: importing this imports neither torch
nor transformers)."""

from __future__ import annotations

from typing import Any

from dllm_core.api import ModelFamily

#: the inclusionAI (Ling) tokenizer's special tokens, shared by LLaDA2.x and LLaDA-MoE
LING_SPECIAL_TOKENS = {"mask": "<|mask|>", "eos": "<|endoftext|>", "eot": "<|role_end|>"}

#: Ling-style turns: <role>SYSTEM|HUMAN|ASSISTANT</role>text<|role_end|>, used when a tokenizer
#: has no template of its own (the official checkpoints ship theirs)
LING_CHAT_TEMPLATE = (
    "{% set names = {'system': 'SYSTEM', 'user': 'HUMAN', 'assistant': 'ASSISTANT'} %}"
    "{% for message in messages %}"
    "<role>{{ names[message['role']] }}</role>{{ message['content'] }}<|role_end|>"
    "{% endfor %}{% if add_generation_prompt %}<role>ASSISTANT</role>{% endif %}"
)

#: Size presets: config keyword arguments for training from scratch. ``tiny`` fixes only the
#: architecture; the tokenizer's ``vocab_size`` and special-token ids are merged over it.
LLADA2_PRESETS: dict[str, dict[str, Any]] = {
    # one dense layer, then two MoE layers of 4 experts (2 groups of 2, top-2 from the best group)
    # plus a shared expert; ~0.12M parameters plus 2 * 64 * vocab_size; CPU-trainable
    "tiny": dict(
        hidden_size=64, intermediate_size=128, num_hidden_layers=3, first_k_dense_replace=1,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, num_experts=4,
        num_experts_per_tok=2, n_group=2, topk_group=1, num_shared_experts=1,
        moe_intermediate_size=32, routed_scaling_factor=2.5, partial_rotary_factor=0.5,
        rope_theta=10000.0, rms_norm_eps=1e-6, max_position_embeddings=1024, use_bias=False,
        attention_dropout=0.0, mask_token_id=None, eos_token_id=None, pad_token_id=None,
    ),
    # inclusionAI/LLaDA2.0-mini (the Ling-mini-2.0 shape): 16B parameters, 1.4B active per token
    "mini": dict(
        vocab_size=157184, hidden_size=2048, intermediate_size=5120, num_hidden_layers=20,
        first_k_dense_replace=1, num_attention_heads=16, num_key_value_heads=4, head_dim=128,
        num_experts=256, num_experts_per_tok=8, n_group=8, topk_group=4, num_shared_experts=1,
        moe_intermediate_size=512, routed_scaling_factor=2.5, partial_rotary_factor=0.5,
        rope_theta=600000.0, rms_norm_eps=1e-6, max_position_embeddings=32768, use_bias=False,
        attention_dropout=0.0, mask_token_id=156895, eos_token_id=156892, pad_token_id=156892,
    ),
}

LLADAMOE_PRESETS: dict[str, dict[str, Any]] = {
    # two MoE layers of 4 experts, top-2, q/k norms; ~0.08M parameters plus 2 * 64 * vocab_size
    "tiny": dict(
        hidden_size=64, dense_intermediate_size=128, expert_intermediate_size=32,
        num_hidden_layers=2, moe_layer_freq=[1, 1], num_attention_heads=4, num_key_value_heads=4,
        num_experts=4, num_experts_per_tok=2, qk_layernorm=True, rope_theta=10000.0,
        max_position_embeddings=1024, mask_token_id=None, eos_token_id=None, pad_token_id=None,
    ),
}

LLADA2 = ModelFamily(
    name="llada2",
    description="LLaDA2.x: MoE block-diffusion LM (inclusionAI/LLaDA2.0-mini, -flash, LLaDA2.1-mini)",
    model_types=("llada2_moe", "llada21_moe"),
    config_class="dllm_llada2.configuration_llada2_moe:LLaDA2MoeConfig",
    model_class="dllm_llada2.modeling_llada2_moe:LLaDA2MoeModelLM",
    register_auto="dllm_llada2.modeling_llada2_moe:register_with_transformers",
    logit_shift=False,
    supports_kv_cache=True,
    supports_logits_to_keep=True,
    special_tokens=LING_SPECIAL_TOKENS,
    chat_template=LING_CHAT_TEMPLATE,
    presets=LLADA2_PRESETS,
    default_objective="block-diffusion",
    # LLaDA2 trains with blocks of 32 from position 0: its sampler writes the answer right after the prompt
    objective_defaults={"block-diffusion": {"block_size": 32, "answer_starts_block": False}},
    default_generator="llada2",  # LLaDA2MoeModelLM.generate (the core's llada2 generator)
    generator_defaults={"block_length": 32, "steps": 32, "gen_length": 512, "threshold": 0.95},
    eval_model_name="llada2",
)

LLADAMOE = ModelFamily(
    name="lladamoe",
    description="LLaDA-MoE: OLMoE-style masked diffusion LM (inclusionAI/LLaDA-MoE-7B-A1B-*)",
    model_types=("lladamoe",),
    config_class="dllm_llada2.configuration_lladamoe:LLaDAMoEConfig",
    model_class="dllm_llada2.modeling_lladamoe:LLaDAMoEModelLM",
    register_auto="dllm_llada2.modeling_lladamoe:register_with_transformers",
    logit_shift=False,
    supports_kv_cache=True,
    supports_logits_to_keep=True,
    special_tokens=LING_SPECIAL_TOKENS,
    chat_template=LING_CHAT_TEMPLATE,
    presets=LLADAMOE_PRESETS,
    default_objective="masked-diffusion",
    default_generator="llada",  # ML-GSAI/LLaDA's generate, as the LLaDA-MoE model card samples
    generator_defaults={"steps": 128, "gen_length": 128, "block_length": 32},
    fast_generator="fastdllm",
    eval_model_name="lladamoe",
)
