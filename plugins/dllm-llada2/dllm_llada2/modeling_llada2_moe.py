"""LLaDA2.x (inclusionAI/LLaDA2.0-mini, -flash, LLaDA2.1-mini): a Ling-2.0 style mixture-of-experts
transformer trained as a (block) diffusion language model. Weight names match the official
checkpoints, so they load with ``LLaDA2MoeModelLM.from_pretrained(path)`` and no remote code.

Per layer (pre-norm; fused q/k/v projection, grouped-query attention, q/k RMSNorm per head,
rotary embeddings on ``partial_rotary_factor`` of each head):

    h = x + dense(Attn(query_key_value(n1))),   n1 = input_layernorm(x)
    y = h + FFN(n2),                            n2 = post_attention_layernorm(h)

FFN is a SwiGLU MLP of ``intermediate_size`` in the first ``first_k_dense_replace`` layers and a
mixture of experts in the others:

    FFN(n) = sum_j w_j Expert_{e_j}(n) + SharedExperts(n)

with experts e_j and weights w_j from the sigmoid group-limited router (see
:mod:`dllm_llada2.routing`; ``expert_bias`` only steers the choice). logits = lm_head(norm(x_L)).

Attention is bidirectional unless a mask says otherwise; LLaDA2's ``generate`` passes a 4D
block-causal mask (additive or boolean; both are accepted). A 2D mask hides padded keys (the hub
code turns a 2D mask into a causal one; dllm's engines never rely on that).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dllm_core.api import (
    RMSNorm,
    SwiGLU,
    norm_heads,
    register_auto_classes,
    require_full_attention,
    require_plain_rope,
)
from dllm_llada2.attention import PartialRotaryAttention
from dllm_llada2.configuration_llada2_moe import LLaDA2MoeConfig, LLaDA21MoeConfig
from dllm_llada2.experts import mix_experts
from dllm_llada2.moe_lm import MoeBackbone, MoeDecoderLayer, MoeDiffusionLM
from dllm_llada2.rotary import PartialRotary
from dllm_llada2.routing import group_limited_topk, sigmoid_group_routing


def _check_supported(config: LLaDA2MoeConfig) -> None:
    """Reject options no LLaDA2 checkpoint uses and router shapes the router cannot serve."""
    require_plain_rope(config, "LLaDA2")
    require_full_attention(config, "LLaDA2")
    if config.num_experts is None or config.num_hidden_layers <= config.first_k_dense_replace:
        return
    experts, groups = config.num_experts, config.n_group
    if experts % groups or experts // groups < 2:
        raise ValueError(f"num_experts ({experts}) must split into n_group ({groups}) groups of at least "
                         "2 experts each (a group's score sums its two best experts)")
    if not 1 <= config.topk_group <= groups or config.num_experts_per_tok > config.topk_group * experts // groups:
        raise ValueError(f"topk_group ({config.topk_group}) groups of {experts // groups} experts cannot "
                         f"supply num_experts_per_tok ({config.num_experts_per_tok}); raise topk_group")
    if not config.moe_intermediate_size:
        raise ValueError("moe_intermediate_size must be set for the MoE layers")


class LLaDA2MoeAttention(PartialRotaryAttention):
    """Grouped-query attention with a fused ``query_key_value`` projection, q/k layernorms and the
    output projection ``dense``."""

    def __init__(self, config: LLaDA2MoeConfig, layer_idx: int, rotary: PartialRotary):
        super().__init__()
        d, head_dim = config.hidden_size, config.head_dim
        heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.config = config
        self.layer_idx = layer_idx
        self.rotary = rotary
        self.sizes = [heads * head_dim, kv_heads * head_dim, kv_heads * head_dim]  # q, k, v features
        self.query_key_value = nn.Linear(d, sum(self.sizes), bias=config.use_qkv_bias)
        if config.use_qk_norm:
            self.query_layernorm = RMSNorm(head_dim, config.rms_norm_eps)
            self.key_layernorm = RMSNorm(head_dim, config.rms_norm_eps)
        self.dense = nn.Linear(heads * head_dim, d, bias=config.use_bias)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = self.query_key_value(x).split(self.sizes, dim=-1)  # [B, q, H*Dh], 2 x [B, q, H_kv*Dh]
        if self.config.use_qk_norm:
            q, k = norm_heads(self.query_layernorm, q), norm_heads(self.key_layernorm, k)
        return q, k, v

    def project_out(self, out: torch.Tensor) -> torch.Tensor:  # [B, q, H*Dh] -> [B, q, D]
        return self.dense(out)


class LLaDA2MoeGate(nn.Module):
    """The router: ``weight`` [E, D] and the persistent ``expert_bias`` [E] buffer."""

    def __init__(self, config: LLaDA2MoeConfig):
        super().__init__()
        self.config = config
        self.weight = nn.Parameter(torch.empty(config.num_experts, config.hidden_size))
        self.register_buffer("expert_bias", torch.zeros(config.num_experts))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tokens ``x`` [N, D] -> chosen experts [N, k], weights [N, k] and logits [N, E] (float32)."""
        cfg = self.config
        logits = F.linear(x.float(), self.weight.float())  # [N, E]
        selected, weights = sigmoid_group_routing(
            logits, self.expert_bias,
            top_k=cfg.num_experts_per_tok, n_group=cfg.n_group, topk_group=cfg.topk_group,
            normalize=cfg.norm_topk_prob, scaling=cfg.routed_scaling_factor,
        )
        return selected, weights, logits

    def balance_inputs(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For the load-balancing loss: the normalised sigmoid scores s / sum(s) [N, E] and the
        experts the router chose [N, k]."""
        cfg = self.config
        scores = torch.sigmoid(logits)  # [N, E]
        selected = group_limited_topk(scores.detach() + self.expert_bias.float(), cfg.num_experts_per_tok,
                                      cfg.n_group, cfg.topk_group)
        return scores / scores.sum(dim=-1, keepdim=True), selected


class LLaDA2MoeSparseMoeBlock(nn.Module):
    """Routed experts plus the shared experts (one MLP of ``num_shared_experts`` times the size)."""

    def __init__(self, config: LLaDA2MoeConfig):
        super().__init__()
        d, size, act = config.hidden_size, config.moe_intermediate_size, config.hidden_act
        self.experts = nn.ModuleList(SwiGLU(d, size, act) for _ in range(config.num_experts))
        self.gate = LLaDA2MoeGate(config)
        if config.num_shared_experts:
            self.shared_experts = SwiGLU(d, size * config.num_shared_experts, act)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, q, D] -> output [B, q, D] and router logits [B*q, E]."""
        tokens = x.reshape(-1, x.shape[-1])  # [N, D]
        selected, weights, logits = self.gate(tokens)
        y = mix_experts(tokens, self.experts, selected, weights).view_as(x)
        if hasattr(self, "shared_experts"):
            y = y + self.shared_experts(x)
        return y, logits

    def balance_inputs(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The gate's :meth:`LLaDA2MoeGate.balance_inputs`."""
        return self.gate.balance_inputs(logits)


class LLaDA2MoeDecoderLayer(MoeDecoderLayer):
    """One pre-norm layer; its ``mlp`` is dense or a :class:`LLaDA2MoeSparseMoeBlock`."""

    attention_name = "attention"

    def __init__(self, config: LLaDA2MoeConfig, layer_idx: int, rotary: PartialRotary):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.attention = LLaDA2MoeAttention(config, layer_idx, rotary)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.is_moe = config.num_experts is not None and layer_idx >= config.first_k_dense_replace
        self.mlp = (LLaDA2MoeSparseMoeBlock(config) if self.is_moe
                    else SwiGLU(config.hidden_size, config.intermediate_size, config.hidden_act))


class LLaDA2MoeModel(MoeBackbone):
    """Token embedding ``word_embeddings``, decoder layers and final norm (the official
    ``model.*`` layout)."""

    embedding_name = "word_embeddings"

    def __init__(self, config: LLaDA2MoeConfig):
        super().__init__(config, config.head_dim, LLaDA2MoeDecoderLayer)


class LLaDA2MoeModelLM(MoeDiffusionLM):
    """LLaDA2.x masked-diffusion LM with the dllm generation contract.

    ``forward(input_ids [B, q], attention_mask, position_ids, past_key_values, use_cache,
    logits_to_keep, labels)`` as in ``DiffusionLMMixin``: a 2D [B, Lk] mask hides padded keys,
    a 4D [B, 1, q, Lk] bool (True = attend) or additive float mask is used as given (LLaDA2's
    block-causal mask); caches get ``update(k, v, layer_idx)`` per layer after the rotary
    embedding; ``labels`` [B, n_kept] give the cross entropy over labels != -100 (plus the
    router loss while training with ``output_router_logits``). Returns a
    :class:`~dllm_llada2.moe_lm.MoeDiffusionLMOutput`.
    """

    config_class = LLaDA2MoeConfig
    _no_split_modules = ["LLaDA2MoeDecoderLayer"]
    _input_embeddings_path = "model.word_embeddings"

    def __init__(self, config: LLaDA2MoeConfig):
        super().__init__(config)
        _check_supported(config)
        self.model = LLaDA2MoeModel(config)
        self._init_lm_head()
        self.post_init()


class LLaDA21MoeModelLM(LLaDA2MoeModelLM):
    """The same model for configs saved under the ``llada21_moe`` model type."""

    config_class = LLaDA21MoeConfig


def register_with_transformers() -> None:
    """Register ``llada2_moe`` and ``llada21_moe`` with AutoConfig, AutoModel and
    AutoModelForMaskedLM (idempotent)."""
    register_auto_classes(LLaDA2MoeConfig, LLaDA2MoeModelLM)
    register_auto_classes(LLaDA21MoeConfig, LLaDA21MoeModelLM)
