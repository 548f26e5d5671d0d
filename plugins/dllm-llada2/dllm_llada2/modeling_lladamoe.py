"""LLaDA-MoE (inclusionAI/LLaDA-MoE-7B-A1B-Base / -Instruct): an OLMoE-style mixture-of-experts
transformer trained as a masked diffusion model. Weight names match the official checkpoints, so
they load with ``LLaDAMoEModelLM.from_pretrained(path)`` and no remote code.

Per layer (pre-norm; separate q/k/v projections, q/k RMSNorm per head, optional clipping,
rotary embeddings on ``partial_rotary_factor`` of each head):

    h = x + o_proj(Attn(q_proj(n1), k_proj(n1), v_proj(n1))),   n1 = input_layernorm(x)
    y = h + FFN(n2) [+ shared_expert(n2)],                       n2 = post_attention_layernorm(h)

FFN is a SwiGLU MLP of ``dense_intermediate_size`` where ``moe_layer_freq[i] == 0`` and otherwise

    FFN(n) = sum_j p_j Expert_{e_j}(n),   (e, p) = top-k of softmax(gate(n))   (not renormalised)

(see :mod:`dllm_llada2.routing`); the shared expert exists when ``shared_expert_intermediate_size``
is set. logits = lm_head(norm(x_L)). Attention is bidirectional; a 2D mask hides padded keys.
"""

from __future__ import annotations

import torch
from torch import nn

from dllm_core.api import RMSNorm, SwiGLU, register_auto_classes, require_plain_rope
from dllm_llada2.attention import PartialRotaryAttention
from dllm_llada2.configuration_lladamoe import LLaDAMoEConfig
from dllm_llada2.experts import mix_experts
from dllm_llada2.moe_lm import MoeBackbone, MoeDecoderLayer, MoeDiffusionLM
from dllm_llada2.rotary import PartialRotary
from dllm_llada2.routing import softmax_topk_routing


def _check_supported(config: LLaDAMoEConfig) -> None:
    """Reject scaled RoPE and a ``moe_layer_freq`` that does not name every layer."""
    require_plain_rope(config, "LLaDA-MoE")
    if len(config.moe_layer_freq) != config.num_hidden_layers:
        raise ValueError(f"moe_layer_freq has {len(config.moe_layer_freq)} entries for "
                         f"{config.num_hidden_layers} layers; give one (0 = dense, 1 = MoE) per layer")
    if config.hidden_size % config.num_attention_heads:
        raise ValueError(f"hidden_size ({config.hidden_size}) must be divisible by num_attention_heads "
                         f"({config.num_attention_heads})")


class LLaDAMoEAttention(PartialRotaryAttention):
    """Grouped-query attention with q/k norms over each head and optional q/k/v clipping."""

    def __init__(self, config: LLaDAMoEConfig, layer_idx: int, rotary: PartialRotary):
        super().__init__()
        d, heads, kv_heads = config.hidden_size, config.num_attention_heads, config.num_key_value_heads
        head_dim = d // heads
        self.config = config
        self.layer_idx = layer_idx
        self.rotary = rotary
        self.q_proj = nn.Linear(d, heads * head_dim, bias=config.attention_bias)
        self.k_proj = nn.Linear(d, kv_heads * head_dim, bias=config.attention_bias)
        self.v_proj = nn.Linear(d, kv_heads * head_dim, bias=config.attention_bias)
        self.o_proj = nn.Linear(d, d, bias=config.attention_bias)
        if config.qk_layernorm:
            self.q_norm = RMSNorm(head_dim, config.rms_norm_eps)
            self.k_norm = RMSNorm(head_dim, config.rms_norm_eps)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = super().project(x)  # q/k norms where the model has them
        clip = self.config.clip_qkv
        if clip is not None:
            q, k, v = q.clamp(-clip, clip), k.clamp(-clip, clip), v.clamp(-clip, clip)
        return q, k, v


class LLaDAMoESparseMoeBlock(nn.Module):
    """``gate`` (a linear router), the experts and, when configured, an ``expert_bias`` buffer."""

    def __init__(self, config: LLaDAMoEConfig):
        super().__init__()
        self.config = config
        self.gate = nn.Linear(config.hidden_size, config.num_experts, bias=False)
        self.experts = nn.ModuleList(
            SwiGLU(config.hidden_size, config.expert_intermediate_size, config.hidden_act)
            for _ in range(config.num_experts)
        )
        if config.moe_router_enable_expert_bias:
            self.register_buffer("expert_bias", torch.zeros(config.num_experts))
        else:
            self.expert_bias = None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, q, D] -> output [B, q, D] and router logits [B*q, E]."""
        tokens = x.reshape(-1, x.shape[-1])  # [N, D]
        logits = self.gate(tokens)  # [N, E]
        selected, weights = softmax_topk_routing(
            logits, top_k=self.config.num_experts_per_tok, expert_bias=self.expert_bias
        )
        y = mix_experts(tokens, self.experts, selected, weights.to(x.dtype))  # mixed in x's dtype
        return y.view_as(x), logits.float()

    def balance_inputs(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For the load-balancing loss (as the hub code computes it): softmax(logits) [N, E] and
        its top-k experts [N, k]."""
        probabilities = torch.softmax(logits, dim=-1)
        return probabilities, probabilities.topk(self.config.num_experts_per_tok, dim=-1).indices


class LLaDAMoEDecoderLayer(MoeDecoderLayer):
    """One pre-norm layer: attention, then a dense MLP or MoE block (plus the shared expert)."""

    def __init__(self, config: LLaDAMoEConfig, layer_idx: int, rotary: PartialRotary):
        super().__init__()
        d, act = config.hidden_size, config.hidden_act
        self.input_layernorm = RMSNorm(d, config.rms_norm_eps)
        self.self_attn = LLaDAMoEAttention(config, layer_idx, rotary)
        self.post_attention_layernorm = RMSNorm(d, config.rms_norm_eps)
        self.is_moe = config.moe_layer_freq[layer_idx] != 0
        self.mlp = LLaDAMoESparseMoeBlock(config) if self.is_moe else SwiGLU(d, config.dense_intermediate_size, act)
        if self.is_moe and config.shared_expert_intermediate_size is not None:
            self.shared_expert = SwiGLU(d, config.shared_expert_intermediate_size, act)


class LLaDAMoEModel(MoeBackbone):
    """Token embedding ``embed_tokens``, decoder layers and final norm (the official ``model.*``
    layout)."""

    def __init__(self, config: LLaDAMoEConfig):
        super().__init__(config, config.hidden_size // config.num_attention_heads, LLaDAMoEDecoderLayer)


class LLaDAMoEModelLM(MoeDiffusionLM):
    """LLaDA-MoE masked-diffusion LM with the dllm generation contract.

    ``forward(input_ids [B, q], attention_mask, position_ids, past_key_values, use_cache,
    logits_to_keep, labels)`` as in ``DiffusionLMMixin``: a 2D [B, Lk] mask hides padded keys
    (as the hub model does), 4D bool / additive masks are used as given; caches get
    ``update(k, v, layer_idx)`` per layer after the rotary embedding (the hub model takes no
    cache; the cached keys/values are the ones its attention computes); ``labels`` [B, n_kept]
    give the cross entropy over labels != -100 (plus the router loss while training with
    ``output_router_logits``). Returns a :class:`~dllm_llada2.moe_lm.MoeDiffusionLMOutput`.
    """

    config_class = LLaDAMoEConfig
    _no_split_modules = ["LLaDAMoEDecoderLayer"]
    _input_embeddings_path = "model.embed_tokens"

    def __init__(self, config: LLaDAMoEConfig):
        super().__init__(config)
        _check_supported(config)
        self.model = LLaDAMoEModel(config)
        self._init_lm_head()
        self.post_init()


def register_with_transformers() -> None:
    """Register ``lladamoe`` with AutoConfig, AutoModel and AutoModelForMaskedLM (idempotent)."""
    register_auto_classes(LLaDAMoEConfig, LLaDAMoEModelLM)
