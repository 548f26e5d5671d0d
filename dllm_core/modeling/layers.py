"""Layers shared by the families' transformers: RMSNorm (also per head), the SwiGLU feed-forward
and the usual initialisation for training from scratch."""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import ACT2FN


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


def norm_heads(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``norm`` over the head size Dh (its ``weight`` is [Dh]) applied to every head of ``x``
    [B, q, H*Dh]; returns [B, q, H*Dh]. The per-head q/k norm of Qwen3-style attention: one weight
    shared by all heads."""
    return norm(x.unflatten(-1, (-1, norm.weight.shape[0]))).flatten(-2)


class SwiGLU(nn.Module):
    """Gated feed-forward without biases, with the Llama/Qwen weight names:

        SwiGLU(x) = down_proj(act(gate_proj(x)) * up_proj(x))
    """

    def __init__(self, hidden_size: int, intermediate_size: int, activation: str):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)
        self.act_fn = ACT2FN[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., D] -> [..., D]
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


def init_weights_normal(module: nn.Module, std: float) -> bool:
    """Initialise one module for training from scratch (a family's ``_init_weights``).

    N(0, ``std``) for the weights of linear layers and embeddings (an embedding's padding row
    zero), zero linear biases, unit :class:`RMSNorm` weights. Returns False, and leaves the module
    as it is, for any other kind of module (so a family can handle its own kinds after it).
    """
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
    else:
        return False
    return True
