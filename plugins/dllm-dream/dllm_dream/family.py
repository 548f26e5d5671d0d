"""The Dream family description (pure data: importing it imports neither torch nor transformers)."""

from __future__ import annotations

from typing import Any

from dllm_core.api import ModelFamily

#: Size presets: config keyword arguments for training from scratch. ``tiny`` fixes only the
#: architecture; merge the tokenizer's ``vocab_size`` and special-token ids over it, e.g.
#: ``DreamConfig(**{**PRESETS["tiny"], "vocab_size": 96, "mask_token_id": 95, ...})``.
PRESETS: dict[str, dict[str, Any]] = {
    # 0.59M parameters plus 2 * 128 * vocab_size for embedding and lm_head; CPU-trainable.
    "tiny": dict(
        hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024, rope_theta=10000.0,
        max_window_layers=4, mask_token_id=None, pad_token_id=None, bos_token_id=None,
        eos_token_id=None,
    ),
    # Dream-org/Dream-v0-Base-7B / -Instruct-7B (Qwen2.5-7B shape).
    "7b": dict(
        vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
        num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=131072,
        rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False,
        mask_token_id=151666, pad_token_id=151643, bos_token_id=151643, eos_token_id=151643,
    ),
}

#: Qwen-style turns, as in Dream-org/Dream-v0-Instruct-7B's tokenizer
DREAM_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

DREAM = ModelFamily(
    name="dream",
    description="Dream: Qwen2-style diffusion LM predicting token i from position i-1 (Dream-org/Dream-v0-*)",
    model_types=("Dream",),
    config_class="dllm_dream.configuration_dream:DreamConfig",
    model_class="dllm_dream.modeling_dream:DreamModel",
    register_auto="dllm_dream.modeling_dream:register_with_transformers",
    logit_shift=True,
    supports_kv_cache=True,
    supports_logits_to_keep=True,
    special_tokens={"mask": "<|mask|>", "eos": "<|endoftext|>", "eot": "<|im_end|>",
                    "bos": "<|beginoftext|>"},
    chat_template=DREAM_CHAT_TEMPLATE,
    presets=PRESETS,
    default_objective="masked-diffusion",
    default_generator="dream",
    generator_defaults={"steps": 128, "max_new_tokens": 128, "alg": "entropy"},
    eval_model_name="dream",
    ar_converter="dllm_dream.convert:convert_from_ar",
)
