"""Bidirectional multi-head attention with rotary embeddings, padding masks and KV caches.

Attention is full (non-causal): every query position attends to every key it is allowed to,

    Attn(Q, K, V) = softmax(Q K^T / sqrt(D) + M) V,

with M = 0 where attending is allowed and -inf elsewhere, through
``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient kernels where
the device has them).

Caching follows transformers' ``Cache`` protocol: after the rotary embedding each layer calls
``cache.update(k, v, layer_idx)`` with its new keys/values [B, H_kv, q, D] and attends over the
full key/value sequence [B, H_kv, Lk, D] the cache returns. The cache decides what that is
(everything recorded so far, a kept prefix plus the new block, or a whole canvas with a block
overwritten in place); the model only needs position ids for the query tokens and a mask that
covers all Lk keys.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from transformers.cache_utils import Cache, DynamicCache

from dllm_core.modeling.output import LogitsToKeep, keep_positions
from dllm_core.modeling.rotary import apply_rotary


def resolve_cache(
    past_key_values: Optional[Cache], cache: Optional[Cache], use_cache: bool
) -> Optional[Cache]:
    """The cache a forward call works with.

    ``past_key_values`` is the name dllm's model contract uses; ``cache`` is transformers 5's
    name for the same argument and is accepted too. ``use_cache=True`` without either starts
    an empty ``DynamicCache``.
    """
    if past_key_values is not None and cache is not None:
        raise ValueError("pass the cache as past_key_values or as cache, not both")
    cache = past_key_values if past_key_values is not None else cache
    if cache is None and use_cache:
        cache = DynamicCache()
    return cache


def default_position_ids(input_ids: torch.Tensor, cache: Optional[Cache]) -> torch.Tensor:
    """Default positions [1, q] of the query tokens: right after what ``cache`` holds."""
    start = cache.get_seq_length() if cache is not None else 0
    return torch.arange(start, start + input_ids.shape[1], device=input_ids.device)[None]


def attention_mask_for_sdpa(
    attention_mask: Optional[torch.Tensor], dtype: torch.dtype
) -> Optional[torch.Tensor]:
    """Turn a user-facing attention mask into what ``scaled_dot_product_attention`` takes.

    * ``None`` -> ``None`` (attend everywhere);
    * 2D [B, Lk] with 1 = attend, 0 = padding -> bool [B, 1, 1, Lk] that masks those *keys*
      for every query (``None`` when nothing is masked, which keeps the fast kernels);
    * 4D bool [B, 1 or H, q, Lk], True = attend -> unchanged (a query row that is all False
      yields a zero attention output);
    * 4D integer, 1 = attend -> bool; 4D float -> an additive bias cast to ``dtype``.
    """
    if attention_mask is None:
        return None
    if attention_mask.dim() == 2:
        if bool(attention_mask.all()):
            return None
        return attention_mask.bool()[:, None, None, :]
    if attention_mask.dim() != 4:
        shape = tuple(attention_mask.shape)
        raise ValueError(f"attention_mask must be 2D [B, Lk] or 4D [B, 1, q, Lk], got {shape}")
    if attention_mask.dtype == torch.bool:
        return attention_mask
    if attention_mask.is_floating_point():
        return attention_mask.to(dtype)
    return attention_mask.bool()


def rotary_self_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    *,
    n_heads: int,
    n_kv_heads: int,
    mask: Optional[torch.Tensor],
    cache: Optional[Cache],
    layer_idx: int,
    rope_full_precision: bool,
    dropout_p: float = 0.0,
    keep: LogitsToKeep = None,
) -> torch.Tensor:
    """Attention over projected q [B, q, H*D], k/v [B, q, H_kv*D]; returns [B, q, H*D].

    ``cos``/``sin`` [B, q, D] are the rotary tables of the query tokens' positions; ``mask`` is
    the output of :func:`attention_mask_for_sdpa`. With grouped-query attention (H_kv < H),
    query head h reads key/value head h // (H / H_kv).

    ``keep`` (a ``logits_to_keep`` value, see :func:`keep_positions`): ``q`` holds the rows
    ``keep`` of the query tokens only, [B, n, H*D], while k/v hold all ``q`` of them (and go to
    the cache); returns [B, n, H*D], those rows of the full result. A model's last layer uses it:
    only the outputs that reach the LM head need their queries.
    """
    B, T, _ = k.shape
    n = q.shape[1]
    if keep is not None:
        mask = keep_query_rows(mask, keep)
    q = q.view(B, n, n_heads, -1).transpose(1, 2)  # [B, H, n, D]
    k = k.view(B, T, n_kv_heads, -1).transpose(1, 2)  # [B, H_kv, q, D]
    v = v.view(B, T, n_kv_heads, -1).transpose(1, 2)  # [B, H_kv, q, D]
    q = apply_rotary(q, keep_positions(cos, keep), keep_positions(sin, keep), rope_full_precision)
    k = apply_rotary(k, cos, sin, rope_full_precision)
    if cache is not None:
        k, v = cache.update(k, v, layer_idx)  # [B, H_kv, Lk, D]
    if n_heads != n_kv_heads:
        k = k.repeat_interleave(n_heads // n_kv_heads, dim=1)  # [B, H, Lk, D]
        v = v.repeat_interleave(n_heads // n_kv_heads, dim=1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
    return out.transpose(1, 2).reshape(B, n, -1)  # [B, H, n, D] -> [B, n, H*D]


def keep_query_rows(mask: Optional[torch.Tensor], keep: LogitsToKeep) -> Optional[torch.Tensor]:
    """The query rows ``keep`` of an SDPA ``mask`` [B, 1 or H, q or 1, Lk]; one that is the
    same for every query (a padding mask, [B, 1, 1, Lk]) or ``None`` is returned as it is."""
    if mask is None or mask.shape[-2] == 1:
        return mask
    return keep_positions(mask.transpose(1, 2), keep).transpose(1, 2)
