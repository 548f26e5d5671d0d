"""LLaDA2.x MoE configuration, with the field names of the official ``LLaDA2MoeConfig``
(inclusionAI/LLaDA2.0-mini, LLaDA2.0-flash, LLaDA2.1-mini).

Official ``config.json`` files load unchanged and every default is the official one, so a field a
checkpoint leaves out means what it means for the hub code (the real shapes are the presets in
:mod:`dllm_llada2.family`). Fields the model does not read (``embedding_dropout``,
``output_dropout``, ``norm_head``, ``sliding_window``, ``max_window_layers``) are kept and written
back. ``num_key_value_heads`` 0 means one key/value head per query head, as LLaDA2.1's config
reads it.

dllm additions, absent from official files: ``mask_token_id`` (the hub code takes the mask id as
a ``generate`` argument; official checkpoints give it through the tokenizer), ``norm_topk_prob``
(renormalise the routed weights; the hub code always does, so the default is ``True``) and
``router_aux_loss_coef`` (weight of the load-balancing loss, used with ``output_router_logits``;
LLaDA2 balances with ``expert_bias`` and its hub code has no auxiliary loss).

``model_type`` is ``llada2_moe``; checkpoints saved by code that calls the same architecture
``llada21_moe`` (LLaDA2.1 copies) load as :class:`LLaDA21MoeConfig` and keep that name.
"""

from __future__ import annotations

from typing import Any, Optional

from transformers import PretrainedConfig


class LLaDA2MoeConfig(PretrainedConfig):
    model_type = "llada2_moe"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 30592,
        hidden_size: int = 1024,
        intermediate_size: Optional[int] = None,  # SwiGLU size of the first_k_dense_replace dense layers
        num_hidden_layers: int = 24,
        num_attention_heads: int = 16,
        num_key_value_heads: int = 0,  # grouped-query; 0 (or None) = num_attention_heads
        hidden_act: str = "silu",
        use_qkv_bias: bool = False,  # bias on the fused query_key_value projection
        use_qk_norm: bool = True,  # per-head RMSNorm of q and k (query_layernorm / key_layernorm)
        use_bias: bool = True,  # bias on the attention output projection (dense)
        rms_norm_eps: float = 1e-05,
        norm_head: bool = False,  # unused by the model
        tie_word_embeddings: bool = False,
        embedding_dropout: float = 0.1,  # unused by the model (as in the hub code)
        attention_dropout: float = 0.1,  # dropout on attention probabilities while training
        output_dropout: float = 0.1,  # unused by the model (as in the hub code)
        initializer_range: float = 0.02,  # std of the normal init used when training from scratch
        max_position_embeddings: int = 16384,
        rope_theta: float = 10000.0,
        use_cache: bool = True,
        use_sliding_window: bool = False,  # only False is supported
        sliding_window: int = 4096,
        max_window_layers: int = 28,
        rope_scaling: Optional[dict] = None,  # only None (plain RoPE) is supported
        pad_token_id: Optional[int] = 126081,
        num_experts: Optional[int] = 16,  # routed experts per MoE layer; None = no MoE layer
        num_shared_experts: Optional[int] = 0,  # always-on experts, fused into one MLP
        num_experts_per_tok: int = 2,  # k
        n_group: int = 8,  # expert groups of the group-limited router
        topk_group: int = 4,  # groups a token may route into
        routed_scaling_factor: float = 2.5,  # multiplies the routed weights
        moe_intermediate_size: Optional[int] = None,  # SwiGLU size of one expert
        first_k_dense_replace: int = 0,  # the first k layers are dense
        head_dim: Optional[int] = None,  # None = hidden_size // num_attention_heads
        output_router_logits: bool = False,  # return router logits and the load-balancing loss
        partial_rotary_factor: float = 0.5,  # share of each head's features that RoPE rotates
        norm_topk_prob: bool = True,
        router_aux_loss_coef: float = 0.01,
        mask_token_id: Optional[int] = None,
        **kwargs: Any,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.hidden_act = hidden_act
        self.use_qkv_bias = use_qkv_bias
        self.use_qk_norm = use_qk_norm
        self.use_bias = use_bias
        self.rms_norm_eps = rms_norm_eps
        self.norm_head = norm_head
        self.embedding_dropout = embedding_dropout
        self.attention_dropout = attention_dropout
        self.output_dropout = output_dropout
        self.initializer_range = initializer_range
        self.max_position_embeddings = max_position_embeddings
        self.rope_theta = rope_theta
        self.use_cache = use_cache
        self.use_sliding_window = use_sliding_window
        self.sliding_window = sliding_window
        self.max_window_layers = max_window_layers
        self.head_dim = head_dim or hidden_size // num_attention_heads
        if rope_scaling is not None:  # transformers 5 keeps it as `rope_parameters`
            kwargs["rope_scaling"] = rope_scaling
        self.num_experts = num_experts
        self.num_shared_experts = num_shared_experts
        self.num_experts_per_tok = num_experts_per_tok
        self.n_group = n_group
        self.topk_group = topk_group
        self.routed_scaling_factor = routed_scaling_factor
        self.moe_intermediate_size = moe_intermediate_size
        self.first_k_dense_replace = first_k_dense_replace
        self.output_router_logits = output_router_logits
        self.partial_rotary_factor = partial_rotary_factor
        self.norm_topk_prob = norm_topk_prob
        self.router_aux_loss_coef = router_aux_loss_coef
        self.mask_token_id = mask_token_id
        super().__init__(pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, **kwargs: Any) -> Any:
        """Load with the class of the file's ``model_type`` (``llada21_moe`` -> :class:`LLaDA21MoeConfig`)."""
        config_dict, _ = cls.get_config_dict(pretrained_model_name_or_path, **kwargs)
        variant = _VARIANTS.get(config_dict.get("model_type"), cls)
        if variant is not cls and issubclass(variant, cls):
            return variant.from_pretrained(pretrained_model_name_or_path, **kwargs)
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)


class LLaDA21MoeConfig(LLaDA2MoeConfig):
    """The same architecture under the ``model_type`` ``llada21_moe`` (LLaDA2.1 copies)."""

    model_type = "llada21_moe"

    def __init__(self, **kwargs: Any):  # an own __init__ keeps transformers from generating one
        super().__init__(**kwargs)


_VARIANTS: dict[Optional[str], type[LLaDA2MoeConfig]] = {
    config.model_type: config for config in (LLaDA2MoeConfig, LLaDA21MoeConfig)
}
