"""Normalisation layer shared by LLaDA and Dream."""

from __future__ import annotations

import torch
from torch import nn


class RMSNorm(nn.Module):
    """Root-mean-square layer norm without bias.

        y = w * (x / sqrt(mean(x^2, last dim) + eps))

    The normalisation runs in float32 and is cast back to the input dtype *before* the weight
    multiply, which is what both the LLaDA (OLMo ``RMSLayerNorm``) and the Qwen2/Dream reference
    implementations do, so bf16 results match theirs too.
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))  # [D]
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., D] -> [..., D]
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"
