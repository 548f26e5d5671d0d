"""LLaDA-MoE configuration, with the field names of the official ``LLaDAMoEConfig``
(inclusionAI/LLaDA-MoE-7B-A1B-Base / -Instruct).

Official ``config.json`` files load unchanged. Where the official class has a real default this
one has the same (``qk_layernorm`` None = off, ``max_position_embeddings`` 4096, ...); where it has
a placeholder (-1, meaning "the file must say") the default is the LLaDA-MoE-7B-A1B value, so
``LLaDAMoEConfig()`` has that model's sizes (its ``config.json`` also sets ``qk_layernorm``).

Fields kept but not read by the model, as in the hub code: ``norm_topk_prob`` (the MoE block
hard-codes no renormalisation), ``moe_router_score_function`` (always softmax),
``routed_scaling_factor``, ``router_num_group``, ``router_topk_group``. dllm addition:
``mask_token_id`` (official checkpoints give the mask id through the tokenizer).
"""

from __future__ import annotations

from typing import Any, Optional

from transformers import PretrainedConfig


class LLaDAMoEConfig(PretrainedConfig):
    model_type = "lladamoe"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 157184,
        hidden_size: int = 2048,
        dense_intermediate_size: int = 8192,  # SwiGLU size of the dense layers
        expert_intermediate_size: int = 1024,  # SwiGLU size of one expert
        shared_expert_intermediate_size: Optional[int] = None,  # None = no shared expert
        num_hidden_layers: int = 16,
        num_attention_heads: int = 16,  # head dim = hidden_size // num_attention_heads
        num_key_value_heads: Optional[int] = None,  # grouped-query; None = num_attention_heads
        hidden_act: str = "silu",
        max_position_embeddings: int = 4096,
        initializer_range: float = 0.02,  # std of the normal init used when training from scratch
        rms_norm_eps: float = 1e-05,
        use_cache: bool = False,
        pad_token_id: Optional[int] = 1,
        bos_token_id: Optional[int] = None,
        eos_token_id: Optional[int] = 50279,
        tie_word_embeddings: bool = False,
        rope_theta: float = 50000.0,
        partial_rotary_factor: float = 1.0,  # share of each head's features that RoPE rotates
        rope_scaling: Optional[dict] = None,  # only None (plain RoPE) is supported
        attention_bias: bool = False,  # biases on q/k/v/o projections
        attention_dropout: float = 0.0,
        clip_qkv: Optional[float] = None,  # clamp q, k, v to [-clip_qkv, clip_qkv]
        num_experts_per_tok: int = 8,  # k
        num_experts: int = 64,
        output_router_logits: bool = False,  # return router logits and the load-balancing loss
        router_aux_loss_coef: float = 0.01,
        norm_topk_prob: Optional[bool] = None,
        qk_layernorm: Optional[bool] = None,  # per-head RMSNorm of q and k (q_norm / k_norm); None = off
        moe_layer_freq: Optional[list[int]] = None,  # per layer: 0 = dense, else MoE; None = all MoE
        moe_router_enable_expert_bias: Optional[bool] = None,  # an expert_bias buffer in each block
        moe_router_score_function: Optional[str] = None,
        routed_scaling_factor: float = 1,
        router_num_group: Optional[int] = -2,
        router_topk_group: Optional[int] = -2,
        mask_token_id: Optional[int] = None,
        **kwargs: Any,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.dense_intermediate_size = dense_intermediate_size
        self.expert_intermediate_size = expert_intermediate_size
        self.shared_expert_intermediate_size = shared_expert_intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.rope_theta = rope_theta
        self.partial_rotary_factor = partial_rotary_factor
        if rope_scaling is not None:  # transformers 5 keeps it as `rope_parameters`
            kwargs["rope_scaling"] = rope_scaling
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.clip_qkv = clip_qkv
        self.num_experts_per_tok = num_experts_per_tok
        self.num_experts = num_experts
        self.output_router_logits = output_router_logits
        self.router_aux_loss_coef = router_aux_loss_coef
        self.norm_topk_prob = norm_topk_prob
        self.qk_layernorm = qk_layernorm
        self.moe_layer_freq = list(moe_layer_freq) if moe_layer_freq is not None else [1] * num_hidden_layers
        self.moe_router_enable_expert_bias = moe_router_enable_expert_bias
        self.moe_router_score_function = moe_router_score_function
        self.routed_scaling_factor = routed_scaling_factor
        self.router_num_group = router_num_group
        self.router_topk_group = router_topk_group
        self.mask_token_id = mask_token_id
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
