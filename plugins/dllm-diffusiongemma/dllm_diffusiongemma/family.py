"""The DiffusionGemma family description (pure data: importing it imports neither torch nor
transformers).

The model is transformers' own ``DiffusionGemmaForBlockDiffusion`` (``model_type``
``diffusion_gemma``): an encoder that writes the prompt and every finished canvas into a KV cache,
and a bidirectional denoiser over a canvas of ``config.canvas_length`` tokens that reads it.
"""

from __future__ import annotations

from typing import Any

from dllm_core.api import ModelFamily

#: Gemma's tokenizer tokens by role. Uniform-noise diffusion never writes a mask token; ``<mask>``
#: (a Gemma vocabulary entry) only satisfies the core's special-token resolution.
GEMMA_SPECIAL_TOKENS = {"eos": "<eos>", "eot": "<end_of_turn>", "bos": "<bos>", "pad": "<pad>", "mask": "<mask>"}

#: Size presets for training from scratch (see :mod:`dllm_diffusiongemma.builder`): the text
#: stack, the canvas and a vision tower the library always builds (kept minimal). The vocabulary
#: and the pad/EOS/BOS ids come from the tokenizer.
#:
#: transformers' DiffusionGemma layers always run a dense MLP *and* a mixture of experts side by
#: side; ``tiny`` makes the expert branch dense (one expert, always chosen).
_TINY: dict[str, Any] = dict(
    text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=16, global_head_dim=16, sliding_window=128,
              layer_types=["sliding_attention", "full_attention"], num_experts=1, top_k_experts=1,
              moe_intermediate_size=64, max_position_embeddings=1024, final_logit_softcapping=30.0),
    vision=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                num_key_value_heads=2, head_dim=8, patch_size=4, position_embedding_size=64),
    canvas_length=32,
)
DIFFUSIONGEMMA_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": _TINY,
    # the same with a real mixture: 4 experts, top-2
    "tiny-moe": {**_TINY, "text": {**_TINY["text"], "num_experts": 4, "top_k_experts": 2, "moe_intermediate_size": 32}},
}

DIFFUSIONGEMMA = ModelFamily(
    name="diffusiongemma",
    description="DiffusionGemma: uniform-noise block diffusion, encoder cache + denoiser (google/diffusiongemma-*)",
    model_types=("diffusion_gemma",),
    config_class=None,  # transformers' own DiffusionGemmaConfig
    model_class="transformers:DiffusionGemmaForBlockDiffusion",
    special_tokens=GEMMA_SPECIAL_TOKENS,
    logit_shift=False,
    supports_kv_cache=True,
    supports_logits_to_keep=False,
    presets=DIFFUSIONGEMMA_PRESETS,
    model_builder="dllm_diffusiongemma.builder:build_from_preset",
    default_objective="uniform-block-diffusion",
    default_generator="diffusiongemma",
    # transformers' DiffusionGemmaGenerationConfig defaults
    generator_defaults={"max_new_tokens": 256, "max_denoising_steps": 48, "entropy_bound": 0.1, "t_min": 0.4,
                        "t_max": 0.8, "stability_threshold": 1, "confidence_threshold": 0.005},
    masked_likelihood=False,  # uniform-state noise: the masked-diffusion bound does not apply
    eval_model_name="diffusiongemma",
)
