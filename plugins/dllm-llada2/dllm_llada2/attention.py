"""Self-attention of both MoE families once q/k/v are projected: per-head q/k RMSNorm, partial
rotary embeddings and the core's bidirectional (grouped-query) attention with its cache protocol.

For every query head h (key/value head h // (H / H_kv)):

    q_h = RoPE(norm_q(q_h)),  k_h = RoPE(norm_k(k_h)),  out_h = softmax(q_h K_h^T / sqrt(Dh) + M) V_h

where norm_q / norm_k are RMSNorms over Dh shared by all heads (when the model has them) and RoPE
rotates the first R features of a head (:mod:`dllm_llada2.rotary`).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from transformers.cache_utils import Cache

from dllm_core.api import RotaryAttentionMixin
from dllm_llada2.rotary import PartialRotary


class PartialRotaryAttention(RotaryAttentionMixin, nn.Module):
    """The core's attention module (:class:`~dllm_core.api.RotaryAttentionMixin`) with q and k
    in the rotary layout of ``rotary`` (:class:`PartialRotary`), whose tables ``cos``/``sin`` it
    is given. A family's module sets ``config``, ``layer_idx`` and ``rotary`` and its projections
    (``project`` / ``project_out`` where they are not ``{q,k,v,o}_proj``)."""

    rotary: PartialRotary

    def attend(
        self,
        q: torch.Tensor,  # [B, q, H*Dh], through the q norm and any clipping
        k: torch.Tensor,  # [B, q, H_kv*Dh]
        v: torch.Tensor,  # [B, q, H_kv*Dh]
        cos: torch.Tensor,  # [B, q, Dh] from PartialRotary.tables
        sin: torch.Tensor,
        mask: Optional[torch.Tensor],
        cache: Optional[Cache],
    ) -> torch.Tensor:  # [B, q, H*Dh]
        to_layout = self.rotary.to_rotary_layout
        return super().attend(to_layout(q), to_layout(k), v, cos, sin, mask, cache)
