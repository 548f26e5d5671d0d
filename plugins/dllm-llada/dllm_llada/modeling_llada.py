"""LLaDA (arXiv 2502.09992): a bidirectional Llama-style transformer trained as a masked
diffusion model. Weight names match the official GSAI-ML checkpoints, so they load with
``LLaDAModelLM.from_pretrained(path)`` and no remote code.

Per block (pre-norm, no causal mask):

    h = x + attn_out(Attn(RoPE(q_proj(n1)), RoPE(k_proj(n1)), v_proj(n1))),  n1 = attn_norm(x)
    y = h + ff_out(act(ff_proj(n2)) * up_proj(n2)),                          n2 = ff_norm(h)

and logits = ff_out(ln_f(x_L)) (or wte^T with ``weight_tying``). With ``logits_to_keep`` the
last block computes keys/values for every position (and records them in a cache) but its query,
attention output and MLP for the kept rows only: nothing else of x_L is read. Positions default
to 0..q-1 (after any cached prefix) whatever the left padding: a 2D attention mask only hides
padded keys, as in the official model.
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
    init_weights_normal,
    keep_positions,
    register_auto_classes,
    rotary_cos_sin,
    rotary_self_attention,
)
from dllm_llada.configuration_llada import LLaDAConfig


def _check_supported(config: LLaDAConfig) -> None:
    """Reject configurations of the OLMo code base that no LLaDA checkpoint uses."""
    unsupported = {
        "block_type": config.block_type != "llama",
        "layer_norm_type": config.layer_norm_type != "rms",
        "layer_norm_with_affine": not config.layer_norm_with_affine,
        "bias_for_layer_norm": bool(
            config.bias_for_layer_norm
            if config.bias_for_layer_norm is not None
            else config.include_bias
        ),
        "attention_layer_norm": config.attention_layer_norm,
        "alibi": config.alibi or not config.rope,
        "block_group_size": config.block_group_size != 1,
        "activation_type": config.activation_type not in ("silu", "gelu", "relu"),
    }
    bad = [name for name, is_bad in unsupported.items() if is_bad]
    if bad:
        raise NotImplementedError(f"LLaDAConfig options this implementation lacks: {bad}")


class LLaDABlock(GradientCheckpointingLayer):
    """One pre-norm transformer block (OLMo/LLaDA "llama" block)."""

    def __init__(self, config: LLaDAConfig, layer_idx: int):
        super().__init__()
        d, hidden = config.d_model, config.effective_mlp_hidden_size
        kv_dim = config.effective_n_kv_heads * (d // config.n_heads)
        qkv_bias = config.include_bias or config.include_qkv_bias
        self.config = config
        self.layer_idx = layer_idx
        self.attn_norm = RMSNorm(d, config.rms_norm_eps)
        self.q_proj = nn.Linear(d, d, bias=qkv_bias)
        self.k_proj = nn.Linear(d, kv_dim, bias=qkv_bias)
        self.v_proj = nn.Linear(d, kv_dim, bias=qkv_bias)
        self.attn_out = nn.Linear(d, d, bias=config.include_bias)
        self.ff_norm = RMSNorm(d, config.rms_norm_eps)
        self.ff_proj = nn.Linear(d, hidden, bias=config.include_bias)  # the gate: goes through act
        self.up_proj = nn.Linear(d, hidden, bias=config.include_bias)
        self.ff_out = nn.Linear(hidden, d, bias=config.include_bias)
        self.act = ACT2FN[config.activation_type]
        self.dropout = nn.Dropout(config.residual_dropout)
        # read once: a transformers config attribute costs a Python lookup chain on every step
        self.n_heads, self.n_kv_heads = config.n_heads, config.effective_n_kv_heads
        self.rope_full_precision, self.attention_dropout = config.rope_full_precision, config.attention_dropout

    def forward(
        self,
        x: torch.Tensor,  # [B, q, D]
        cos: torch.Tensor,  # [B, q, Dh]
        sin: torch.Tensor,  # [B, q, Dh]
        mask: Optional[torch.Tensor],
        cache: Optional[Cache] = None,
        keep: LogitsToKeep = None,
    ) -> torch.Tensor:  # [B, q, D], or [B, n_kept, D] with ``keep``
        """``keep`` (the last block, given ``logits_to_keep``): keys/values of every position
        (into the cache too), everything else for the kept rows only; returns those rows."""
        n = self.attn_norm(x)
        att = rotary_self_attention(
            self.q_proj(keep_positions(n, keep)), self.k_proj(n), self.v_proj(n), cos, sin,
            n_heads=self.n_heads,
            n_kv_heads=self.n_kv_heads,
            mask=mask,
            cache=cache,
            layer_idx=self.layer_idx,
            rope_full_precision=self.rope_full_precision,
            dropout_p=self.attention_dropout if self.training else 0.0,
            keep=keep,
        )  # [B, n_kept, D]
        x = keep_positions(x, keep) + self.dropout(self.attn_out(att))
        n = self.ff_norm(x)
        return x + self.dropout(self.ff_out(self.act(self.ff_proj(n)) * self.up_proj(n)))


class LLaDAModel(nn.Module):
    """Embedding, blocks and final norm under ``transformer`` (the official module layout)."""

    def __init__(self, config: LLaDAConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.effective_embedding_size, config.d_model),
                emb_drop=nn.Dropout(config.embedding_dropout),
                blocks=nn.ModuleList(LLaDABlock(config, i) for i in range(config.n_layers)),
                ln_f=RMSNorm(config.d_model, config.rms_norm_eps),
            )
        )
        if not config.weight_tying:
            self.transformer["ff_out"] = nn.Linear(
                config.d_model, config.effective_embedding_size, bias=config.include_bias
            )

    def forward(
        self,
        input_ids: torch.Tensor,  # [B, q]
        position_ids: torch.Tensor,  # [B, q] or [1, q]
        attention_mask: Optional[torch.Tensor],
        cache: Optional[Cache],
        logits_to_keep: LogitsToKeep,
    ) -> torch.Tensor:  # [B, n_kept, V]
        cfg, tr = self.config, self.transformer
        x = tr.wte(input_ids)  # [B, q, D]
        if cfg.input_emb_norm:
            x = x * cfg.d_model**0.5
        x = tr.emb_drop(x)
        head_dim = cfg.d_model // cfg.n_heads
        cos, sin = rotary_cos_sin(position_ids, head_dim, cfg.rope_theta)  # [B, q, Dh] each
        mask = attention_mask_for_sdpa(attention_mask, x.dtype)
        *body, last = tr.blocks
        for block in body:
            x = block(x, cos, sin, mask, cache=cache)
        # the last block runs its queries, attention output and MLP on the kept rows only
        x = tr.ln_f(last(x, cos, sin, mask, cache=cache, keep=logits_to_keep))  # [B, n_kept, D]
        logits = F.linear(x, tr.wte.weight) if cfg.weight_tying else tr.ff_out(x)
        if cfg.scale_logits:
            logits = logits / cfg.d_model**0.5
        return logits


class LLaDAModelLM(DiffusionLMMixin, PreTrainedModel):
    """LLaDA masked-diffusion LM with the dllm generation contract.

    ``forward(input_ids [B, q], attention_mask, position_ids, past_key_values, use_cache,
    logits_to_keep, labels)``:

    * ``attention_mask``: 2D [B, Lk] (1 = attend; hides padded keys from every query) or 4D
      [B, 1, q, Lk] (bool True = attend, or an additive float bias); Lk counts cached keys;
    * ``position_ids`` [B, q]: default ``past_key_values.get_seq_length() + arange(q)``;
    * ``past_key_values`` (or ``cache``, transformers 5's name): a transformers ``Cache``; each
      layer calls ``update`` with its rotated keys/values and attends over what it returns.
      ``use_cache=True`` without one starts a ``DynamicCache``;
    * ``logits_to_keep``: None/0 = all, k = last k, LongTensor/slice of query indices; only
      those positions are normalised and projected to the vocabulary;
    * ``labels`` [B, n_kept]: masked-LM cross entropy over labels != -100.

    Other keyword arguments (e.g. the Trainer's ``num_items_in_batch``) are ignored.
    """

    config_class = LLaDAConfig
    _no_split_modules = ["LLaDABlock"]
    _input_embeddings_path = "model.transformer.wte"
    _lm_head_path = "model.transformer.ff_out"
    _tie_flag = "weight_tying"

    def __init__(self, config: LLaDAConfig):
        super().__init__(config)
        _check_supported(config)
        self.model = LLaDAModel(config)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """N(0, init_std) for linear and embedding weights, zero biases, unit norm weights."""
        init_weights_normal(module, self.config.init_std)


def register_with_transformers() -> None:
    """Register ``llada`` with AutoConfig, AutoModel and AutoModelForMaskedLM (idempotent)."""
    register_auto_classes(LLaDAConfig, LLaDAModelLM)
