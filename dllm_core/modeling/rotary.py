"""Rotary position embeddings (RoPE, arXiv 2104.09864) for explicit position ids.

Head dimension D is split into two halves (the "rotate half" / GPT-NeoX layout used by both
LLaDA and Qwen2/Dream, not the interleaved-pairs layout). For position p and frequency index
j < D/2 the angle is

    theta_{p,j} = p * base^(-2j / D)

and a vector x = [x1, x2] (halves) becomes

    x' = x * cos(theta) + [-x2, x1] * sin(theta)     (cos/sin repeated over both halves).

Tables are computed on the fly from ``position_ids`` (no cached buffer), so left padding,
prefix caches and in-place block updates just pass the positions they need.
"""

from __future__ import annotations

import torch


def rotary_cos_sin(
    position_ids: torch.Tensor, head_dim: int, base: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables for ``position_ids`` [B, q]; both returned as float32 [B, q, D]."""
    exponents = torch.arange(0, head_dim, 2, device=position_ids.device, dtype=torch.float32)
    inv_freq = 1.0 / (base ** (exponents / head_dim))  # [D/2]
    angles = position_ids.float()[..., None] * inv_freq  # [B, q, D/2]
    angles = torch.cat((angles, angles), dim=-1)  # [B, q, D]
    return angles.cos(), angles.sin()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, full_precision: bool
) -> torch.Tensor:
    """Rotate ``x`` [B, H, q, D] by the tables ``cos``/``sin`` [B, q, D]; returns x's dtype.

    ``full_precision=True`` rotates in float32 and casts back (LLaDA's ``rope_full_precision``);
    ``False`` casts the tables to x's dtype first (Qwen2/Dream). Identical in float32.
    """
    cos, sin = cos[:, None], sin[:, None]  # [B, 1, q, D]
    if full_precision:
        xf = x.float()
        return (xf * cos + _rotate_half(xf) * sin).to(x.dtype)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return x * cos + _rotate_half(x) * sin
