"""The LLaDA family description (pure data: importing it imports neither torch nor transformers)."""

from __future__ import annotations

from typing import Any

from dllm_core.api import ModelFamily

#: Size presets: config keyword arguments for training from scratch. ``tiny`` fixes only the
#: architecture; merge the tokenizer's ``vocab_size`` and special-token ids over it, e.g.
#: ``LLaDAConfig(**{**PRESETS["tiny"], "vocab_size": 96, "mask_token_id": 95, ...})``
#: (``embedding_size=None`` makes the embedding follow ``vocab_size``).
PRESETS: dict[str, dict[str, Any]] = {
    # 0.52M parameters plus 2 * 64 * vocab_size for embedding and output; CPU-trainable. Made
    # for short sequences (puzzles, toy chats): deep and narrow (8 layers of width 64, 4 heads
    # of 16) with RoPE base 50, so offsets of a few dozen tokens are easy to tell apart. On 4x4
    # sudoku, whose rules are all about relative positions, depth is what counts: this learns
    # about twice as fast per optimizer step as 4 layers of width 128 at about the same cost.
    "tiny": dict(
        d_model=64, n_heads=4, n_kv_heads=4, n_layers=8, mlp_hidden_size=256,
        max_sequence_length=1024, rope_theta=50.0, embedding_size=None,
        mask_token_id=None, eos_token_id=None, pad_token_id=None,
    ),
    # LLaDA 1B of the paper's architecture table (arXiv 2502.09992): 22 layers, d 2048, 32 query
    # heads over 4 key/value heads, FFN 5634, LLaDA tokenizer (~1.49B parameters with embeddings).
    "1b": dict(
        d_model=2048, n_heads=32, n_kv_heads=4, n_layers=22, mlp_hidden_size=5634,
        vocab_size=126464, embedding_size=126464, max_sequence_length=4096, rope_theta=500000.0,
        mask_token_id=126336, eos_token_id=126081, pad_token_id=126081,
    ),
    # GSAI-ML/LLaDA-8B-Base / -Instruct.
    "8b": dict(
        d_model=4096, n_heads=32, n_kv_heads=32, n_layers=32, mlp_hidden_size=12288,
        vocab_size=126464, embedding_size=126464, max_sequence_length=4096, rope_theta=500000.0,
        mask_token_id=126336, eos_token_id=126081, pad_token_id=126081,
    ),
}

#: Llama-3-style turns, as in GSAI-ML/LLaDA-8B-Instruct's tokenizer
LLADA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)

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
    special_tokens={"mask": "<|mdm_mask|>", "eos": "<|endoftext|>", "eot": "<|eot_id|>",
                    "bos": "<|startoftext|>"},
    chat_template=LLADA_CHAT_TEMPLATE,
    presets=PRESETS,
    sft_padding="eos",  # LLaDA SFT: EOS pads each answer to the batch's longest and is trained on
    default_objective="masked-diffusion",
    default_generator="llada",
    generator_defaults={"steps": 128, "gen_length": 128, "block_length": 32},
    fast_generator="fastdllm",
    eval_model_name="llada",
)
