"""The A2D family description (pure data: importing it imports neither torch nor transformers)."""

from __future__ import annotations

from typing import Any

from dllm_core.api import ModelFamily

#: Size presets: config keyword arguments for training from scratch (an ``a2d-qwen3`` model).
#: ``tiny`` fixes only the architecture; ``dllm train`` merges the tokenizer's ``vocab_size`` and
#: special-token ids over it.
PRESETS: dict[str, dict[str, Any]] = {
    # 0.59M parameters plus 128 * vocab_size for the (tied) embedding; CPU-trainable.
    "tiny": dict(
        hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, head_dim=32, max_position_embeddings=1024, tie_word_embeddings=True,
    ),
}

#: ChatML turns, used only when a tokenizer has no template (Qwen's own come with the tokenizer)
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

A2D = ModelFamily(
    name="a2d",
    description="A2D: Qwen3/Qwen2/Llama with bidirectional attention for block diffusion (ZHZisZZ/dllm a2d-*)",
    model_types=("a2d-qwen3", "a2d-qwen2", "a2d-llama"),
    config_class="dllm_a2d.configuration_a2d:A2DQwen3Config",  # what the presets build
    model_class=None,  # AutoModelForMaskedLM: the architecture follows config.model_type
    register_auto="dllm_a2d.modeling_a2d:register_with_transformers",
    # ZHZisZZ/dllm's get_tokenizer: mask <|mask|> added, pad = EOS when missing, BOS = pad when
    # missing (so Qwen's BOS and pad are <|endoftext|>), end of turn <|im_end|> (Llama 3: the
    # tokenizer adapter names <|eot_id|>)
    special_tokens={"mask": "<|mask|>", "eos": "<|endoftext|>", "eot": "<|im_end|>",
                    "bos": "<|endoftext|>", "pad": "<|endoftext|>"},
    chat_template=CHATML_TEMPLATE,
    tokenizer_adapter="dllm_a2d.tokenizer:adapt_tokenizer",
    supports_kv_cache=True,
    supports_logits_to_keep=True,
    presets=PRESETS,
    default_objective="block-diffusion",
    objective_defaults={"block-diffusion": {"block_size": 32}},  # ZHZisZZ/dllm's BD3LM training default
    default_generator="bd3lm",
    # ZHZisZZ/dllm's BD3LMSamplerConfig defaults (block_size 32 is also its training default)
    generator_defaults={"steps": 128, "max_new_tokens": 128, "block_size": 32},
    ar_converter="dllm_a2d.convert:convert_from_ar",
)
