"""Dream configuration, with the (Qwen2-style) field names of the official Dream-org checkpoints.

``DreamConfig()`` is the Dream-v0-7B shape (Qwen2.5-7B plus a mask token). Official
``config.json`` files load unchanged; fields the model does not read are kept as attributes.
Two fields official checkpoints lack describe models converted from Qwen3 (``dllm convert``):
``head_dim`` (default hidden_size // num_attention_heads) and ``qk_norm`` (default off).
"""

from __future__ import annotations

from typing import Any, Optional

from transformers import PretrainedConfig


class DreamConfig(PretrainedConfig):
    model_type = "Dream"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 152064,
        hidden_size: int = 3584,
        intermediate_size: int = 18944,  # SwiGLU inner size
        num_hidden_layers: int = 28,
        num_attention_heads: int = 28,
        num_key_value_heads: Optional[int] = 4,  # grouped-query; None = num_attention_heads
        head_dim: Optional[int] = None,  # per-head size; None = hidden_size // num_attention_heads
        qk_norm: bool = False,  # per-head RMSNorm on q and k before RoPE (Qwen3); off in Dream
        hidden_act: str = "silu",  # gate activation
        max_position_embeddings: int = 131072,
        initializer_range: float = 0.02,  # std of the normal init used when training from scratch
        rms_norm_eps: float = 1e-6,
        use_cache: bool = False,
        tie_word_embeddings: bool = False,  # lm_head shares embed_tokens' weight
        rope_theta: float = 1000000.0,
        rope_scaling: Optional[dict] = None,  # RoPE variants: only None (plain RoPE) is supported
        use_sliding_window: bool = False,  # only False is supported (Dream attends to everything)
        sliding_window: Optional[int] = None,
        max_window_layers: int = 28,
        attention_dropout: float = 0.0,
        mask_token_id: Optional[int] = 151666,
        pad_token_id: Optional[int] = 151643,
        bos_token_id: Optional[int] = 151643,
        eos_token_id: Optional[int] = 151643,
        **kwargs: Any,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.head_dim = head_dim or hidden_size // num_attention_heads
        self.qk_norm = qk_norm
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.rope_theta = rope_theta
        if rope_scaling is not None:  # transformers 5 keeps it as `rope_parameters`
            kwargs["rope_scaling"] = rope_scaling
        self.use_sliding_window = use_sliding_window
        self.sliding_window = sliding_window
        self.max_window_layers = max_window_layers
        self.attention_dropout = attention_dropout
        self.mask_token_id = mask_token_id
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )


