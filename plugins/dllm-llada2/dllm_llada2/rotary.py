"""Partial rotary embeddings (``partial_rotary_factor`` < 1) on top of the core's rotary attention.

LLaDA2 (and LLaDA-MoE when configured so) rotates only the first R = int(Dh * factor) features
of every query/key head, in the rotate-half layout *of those R features*: feature i < R/2 pairs
with i + R/2, angles theta_{p,j} = p * base^(-2j / R), and features R..Dh-1 pass through.

The core's :func:`~dllm_core.api.rotary_self_attention` rotates the whole head, pairing i with
i + Dh/2. The two agree after a fixed permutation of every q/k head (attention scores q . k are
unchanged when q and k are permuted alike; v is not touched):

    [r1 | r2 | p1 | p2]  ->  [r1 | p1 | r2 | p2]     (r = rotated halves, p = pass-through halves)

so that r1[j] sits at j and r2[j] at j + Dh/2, with tables that hold the rotary angles at the
r slots and angle 0 (cos 1, sin 0) at the p slots. Cached keys are kept in that layout; nothing
outside the attention sees it. With factor 1 the layout and tables are the plain ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dllm_core.api import rotary_cos_sin


@dataclass(frozen=True)
class PartialRotary:
    """Rotary tables and head layout for ``rotary_dim`` of ``head_dim`` features."""

    head_dim: int
    rotary_dim: int
    base: float

    @classmethod
    def from_factor(cls, head_dim: int, factor: float, base: float) -> "PartialRotary":
        """R = int(head_dim * factor), as the official rotary initialisation computes it."""
        rotary_dim = int(head_dim * factor)
        if not 0 < rotary_dim <= head_dim or rotary_dim % 2 or (head_dim - rotary_dim) % 2:
            raise ValueError(
                f"partial_rotary_factor {factor} gives {rotary_dim} rotary features of a head of "
                f"{head_dim}; both the rotary and the pass-through part must be even and the rotary "
                "part non-empty: choose a factor that gives an even rotary size"
            )
        return cls(head_dim, rotary_dim, base)

    @property
    def is_full(self) -> bool:
        return self.rotary_dim == self.head_dim

    def tables(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin [B, q, Dh] (float32) for heads in the rotary layout of ``position_ids`` [B, q]."""
        cos, sin = rotary_cos_sin(position_ids, self.rotary_dim, self.base)  # [B, q, R] each
        if self.is_full:
            return cos, sin
        half, rest = self.rotary_dim // 2, (self.head_dim - self.rotary_dim) // 2
        ones = cos.new_ones(*cos.shape[:-1], rest)  # [B, q, (Dh - R) / 2]
        zeros = torch.zeros_like(ones)
        cos = torch.cat((cos[..., :half], ones, cos[..., half:], ones), dim=-1)  # [B, q, Dh]
        sin = torch.cat((sin[..., :half], zeros, sin[..., half:], zeros), dim=-1)
        return cos, sin

    def to_rotary_layout(self, x: torch.Tensor) -> torch.Tensor:
        """Permute every head of ``x`` [B, q, H*Dh] into the rotary layout; returns [B, q, H*Dh]."""
        if self.is_full:
            return x
        heads = x.unflatten(-1, (-1, self.head_dim))  # [B, q, H, Dh]
        half, rotary = self.rotary_dim // 2, self.rotary_dim
        middle = rotary + (self.head_dim - rotary) // 2
        parts = (heads[..., :half], heads[..., rotary:middle], heads[..., half:rotary], heads[..., middle:])
        return torch.cat(parts, dim=-1).flatten(-2)
