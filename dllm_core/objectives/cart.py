"""Dream's CART weighting: context-adaptive, token-level loss weights (Dream, arXiv 2508.15487).

A masked token with clean context close by is easier to predict than one far from any context,
so Dream weights each masked position by how much unmasked context surrounds it, with a
geometric kernel over the distance:

    w_i = sum_{j in C} g(|i - j|),    g(d) = 0.5 * p * (1 - p)^(d - 1)  (d >= 1),    p = 0.3,

for a masked position i, where C is the set of context positions: every position that is a real
token (``attention_mask == 1``; padding is not context) and is not masked -- the prompt and the
BOS included, as in the reference, which takes every unmasked position. Unmasked positions get
w = 0 (they are not scored). g sums to 1 over both sides of i (0.5 per side), so a masked token
inside a long clean stretch weighs about 1 and one deep inside a masked run weighs near 0.

The weight replaces the schedule's w(t) token by token; the configured normalisation then
applies unchanged (see :mod:`dllm_core.objectives.elbo`). It is not a bound on the NLL any more.
"""

from __future__ import annotations

import torch


def geometric_kernel(length: int, p: float, device: torch.device | None = None) -> torch.Tensor:
    """``K [L, L]`` with ``K[j, i] = g(|i - j|)`` and a zero diagonal, in float32."""
    positions = torch.arange(length, device=device)
    distance = (positions[:, None] - positions[None, :]).abs()  # [L, L]
    exponent = (distance - 1).clamp(min=0).to(torch.float32)
    kernel = 0.5 * p * torch.pow(torch.tensor(1 - p, device=device), exponent)  # [L, L]
    return kernel.masked_fill(distance == 0, 0.0)


def cart_weights(masked: torch.Tensor, context: torch.Tensor, p: float = 0.3) -> torch.Tensor:
    """CART weights of the masked positions, 0 elsewhere.

    Args:
        masked: ``[B, L]`` bool, the positions replaced by the mask token.
        context: ``[B, L]`` bool, the positions that may serve as context (real tokens);
            ``context & ~masked`` is the set C of the module docstring.
        p: the geometric parameter, ``0 < p <= 1``.

    Returns:
        ``[B, L]`` float32: ``w[b, i] = sum_j [j in C_b] K[j, i]`` where ``masked[b, i]``.

    One ``[B, L] x [L, L]`` product: O(B L^2) time and O(L^2) memory for the kernel.
    """
    if not 0 < p <= 1:
        raise ValueError(f"cart_p must lie in (0, 1], got {p}")
    unmasked = (context & ~masked).to(torch.float32)  # [B, L]
    kernel = geometric_kernel(masked.shape[1], p, masked.device)  # [L, L]
    return (unmasked @ kernel) * masked.to(torch.float32)  # [B, L]
