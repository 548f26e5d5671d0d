"""Dream 7B (HKUNLP / Dream-org): a Qwen2-architecture transformer with full bidirectional
attention, trained as a masked diffusion model initialised from an autoregressive LM. Weight
names match the official Dream-org checkpoints, so they load with
``DreamModel.from_pretrained(path)`` and no remote code.

Per layer (pre-norm; q/k/v projections with bias, grouped-query attention):

    h = x + o_proj(Attn(RoPE(q_proj(n1)), RoPE(k_proj(n1)), v_proj(n1))),  n1 = input_layernorm(x)
    y = h + down_proj(act(gate_proj(n2)) * up_proj(n2)),          n2 = post_attention_layernorm(h)

and logits = lm_head(norm(x_L)). Logits are returned unshifted: Dream reads the prediction for
token i at position i - 1 (position 0 keeps its own); generators and objectives apply that
shift, not the model.

Models converted from Qwen3 (``dllm convert --from-ar``) set ``config.qk_norm``: every head of
q_proj(n1) and k_proj(n1) is RMS-normalised before RoPE (``q_norm``/``k_norm``, one weight [Dh]
shared by all heads), and their head size Dh = ``config.head_dim`` may differ from D / H.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache
from transformers.modeling_layers import GradientCheckpointingLayer

from dllm_core.api import (
    DiffusionLMMixin,
    LogitsToKeep,
    RMSNorm,
    attention_mask_for_sdpa,
    keep_positions,
    register_auto_classes,
    rotary_cos_sin,
    rotary_self_attention,
)
from dllm_dream.configuration_dream import DreamConfig


def _check_supported(config: DreamConfig) -> None:
    """Reject Qwen2 options no Dream checkpoint uses (scaled RoPE, sliding-window attention)."""
    rope_scaling = getattr(config, "rope_scaling", None) or {}
    if rope_scaling.get("rope_type", rope_scaling.get("type", "default")) != "default":
        raise NotImplementedError(f"Dream with rope_scaling={rope_scaling} is not supported")
    if config.use_sliding_window:
        raise NotImplementedError("Dream with use_sliding_window=True is not supported")


def _norm_heads(norm: RMSNorm, x: torch.Tensor) -> torch.Tensor:
    """``norm`` (over Dh) applied to every head of ``x`` [B, q, H*Dh]; returns [B, q, H*Dh]."""
    return norm(x.unflatten(-1, (-1, norm.weight.shape[0]))).flatten(-2)


class DreamAttention(nn.Module):
    """Multi-head attention with q/k/v biases, grouped key/value heads and optional q/k norms."""

    def __init__(self, config: DreamConfig, layer_idx: int):
        super().__init__()
        d, head_dim = config.hidden_size, config.head_dim
        self.config = config
        self.layer_idx = layer_idx
        self.q_proj = nn.Linear(d, config.num_attention_heads * head_dim, bias=True)
        self.k_proj = nn.Linear(d, config.num_key_value_heads * head_dim, bias=True)
        self.v_proj = nn.Linear(d, config.num_key_value_heads * head_dim, bias=True)
        self.o_proj = nn.Linear(config.num_attention_heads * head_dim, d, bias=False)
        if config.qk_norm:
            self.q_norm = RMSNorm(head_dim, config.rms_norm_eps)
            self.k_norm = RMSNorm(head_dim, config.rms_norm_eps)

    def forward(
        self,
        x: torch.Tensor,  # [B, q, D]
        cos: torch.Tensor,  # [B, q, Dh]
        sin: torch.Tensor,  # [B, q, Dh]
        mask: Optional[torch.Tensor],
        cache: Optional[Cache],
    ) -> torch.Tensor:  # [B, q, D]
        q, k = self.q_proj(x), self.k_proj(x)  # [B, q, H*Dh], [B, q, H_kv*Dh]
        if self.config.qk_norm:
            q, k = _norm_heads(self.q_norm, q), _norm_heads(self.k_norm, k)
        out = rotary_self_attention(
            q, k, self.v_proj(x), cos, sin,
            n_heads=self.config.num_attention_heads,
            n_kv_heads=self.config.num_key_value_heads,
            mask=mask,
            cache=cache,
            layer_idx=self.layer_idx,
            rope_full_precision=False,
            dropout_p=self.config.attention_dropout if self.training else 0.0,
        )
        return self.o_proj(out)


class DreamMLP(nn.Module):
    """SwiGLU feed-forward: down_proj(act(gate_proj(x)) * up_proj(x))."""

    def __init__(self, config: DreamConfig):
        super().__init__()
        d, hidden = config.hidden_size, config.intermediate_size
        self.gate_proj = nn.Linear(d, hidden, bias=False)
        self.up_proj = nn.Linear(d, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d, bias=False)
        self.act_fn = ACT2FN[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, q, D] -> [B, q, D]
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class DreamDecoderLayer(GradientCheckpointingLayer):
    """One pre-norm decoder layer (without the causal mask)."""

    def __init__(self, config: DreamConfig, layer_idx: int):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = DreamAttention(config, layer_idx)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = DreamMLP(config)

    def forward(
        self,
        x: torch.Tensor,  # [B, q, D]
        cos: torch.Tensor,  # [B, q, Dh]
        sin: torch.Tensor,  # [B, q, Dh]
        mask: Optional[torch.Tensor],
        cache: Optional[Cache] = None,
    ) -> torch.Tensor:  # [B, q, D]
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class DreamBaseModel(nn.Module):
    """Token embedding, decoder layers and final norm (the official ``model.*`` layout)."""

    def __init__(self, config: DreamConfig):
        super().__init__()
        self.config = config
        # padding_idx as in the reference: the pad row starts at zero and gets no gradient
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.layers = nn.ModuleList(
            DreamDecoderLayer(config, i) for i in range(config.num_hidden_layers)
        )
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self,
        input_ids: torch.Tensor,  # [B, q]
        position_ids: torch.Tensor,  # [B, q] or [1, q]
        attention_mask: Optional[torch.Tensor],
        cache: Optional[Cache],
        logits_to_keep: LogitsToKeep = None,
    ) -> torch.Tensor:  # [B, n_kept, D]
        cfg = self.config
        x = self.embed_tokens(input_ids)
        cos, sin = rotary_cos_sin(position_ids, cfg.head_dim, cfg.rope_theta)  # [B, q, Dh] each
        mask = attention_mask_for_sdpa(attention_mask, x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, cache=cache)
        return keep_positions(self.norm(x), logits_to_keep)  # [B, n_kept, D]


class DreamModel(DiffusionLMMixin, PreTrainedModel):
    """Dream diffusion LM with the dllm generation contract.

    ``forward(input_ids [B, q], attention_mask, position_ids, past_key_values, use_cache,
    logits_to_keep, labels)``:

    * ``attention_mask``: 2D [B, Lk] (1 = attend; hides padded keys from every query) or 4D
      [B, 1, q, Lk] (bool True = attend, e.g. Dream's sampler mask ``m_k AND m_q``; or an
      additive float bias); Lk counts cached keys;
    * ``position_ids`` [B, q]: default ``past_key_values.get_seq_length() + arange(q)``; with left
      padding Dream's sampler passes ``cumsum(mask) - 1``;
    * ``past_key_values`` (or ``cache``, transformers 5's name): a transformers ``Cache``; each
      layer calls ``update`` with its rotated keys/values and attends over what it returns.
      ``use_cache=True`` without one starts a ``DynamicCache``;
    * ``logits_to_keep``: None/0 = all, k = last k, LongTensor/slice of query indices; only
      those positions go through ``lm_head``;
    * ``labels`` [B, n_kept]: cross entropy over labels != -100, position by position (no shift).

    Other keyword arguments (e.g. the Trainer's ``num_items_in_batch``) are ignored.
    """

    config_class = DreamConfig
    _no_split_modules = ["DreamDecoderLayer"]
    _input_embeddings_path = "model.embed_tokens"
    _lm_head_path = "lm_head"

    def __init__(self, config: DreamConfig):
        super().__init__(config)
        _check_supported(config)
        self.model = DreamBaseModel(config)
        if not config.tie_word_embeddings:
            self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """N(0, initializer_range) for linear and embedding weights (pad row zero), zero biases."""
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, RMSNorm):
            nn.init.ones_(module.weight)

    def _project_logits(self, hidden: torch.Tensor) -> torch.Tensor:  # [B, n_kept, D]
        if self.config.tie_word_embeddings:
            return F.linear(hidden, self.model.embed_tokens.weight)  # [B, n_kept, V]
        return self.lm_head(hidden)  # [B, n_kept, V]


def register_with_transformers() -> None:
    """Register ``Dream`` with AutoConfig, AutoModel and AutoModelForMaskedLM (idempotent)."""
    register_auto_classes(DreamConfig, DreamModel)
