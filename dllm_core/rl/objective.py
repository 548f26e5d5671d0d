"""The diffu-GRPO loss: clipped importance ratio and a k3 KL penalty to a reference model.

For completion i, token k (mask m_ik = 1 for scored tokens), current log-probability l_ik,
log-probability when the completions were sampled l^old_ik and under the reference model
l^ref_ik (all ``[N, T]``), advantage A_i ``[N]``:

    rho_ik   = exp(l_ik - l^old_ik)
    L^clip   = min(rho_ik A_i, clip(rho_ik, 1 - eps, 1 + eps) A_i)
    KL_ik    = exp(l^ref_ik - l_ik) - (l^ref_ik - l_ik) - 1                    (k3, >= 0)
    loss     = -(1/N) sum_i (1/|m_i|) sum_k m_ik (L^clip_ik - beta KL_ik)

(d1 eq. 3, trl's per-sequence normalisation). Samples left out (failed reward) have m_i = 0 and
count neither in the sum nor in N. The clip fraction is the share of scored tokens where the
clip is active: rho < 1 - eps with A < 0, or rho > 1 + eps with A > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class GRPOLoss:
    """The loss (scalar tensor to back-propagate) and detached metrics."""

    loss: torch.Tensor
    kl: float  # mean k3 KL over scored tokens (0 without a reference)
    clip_fraction: float  # share of scored tokens with the clip active


def k3_kl(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """``exp(ref - logp) - (ref - logp) - 1`` elementwise: an unbiased, non-negative KL estimate."""
    delta = ref_logps - logps
    return torch.exp(delta) - delta - 1


def grpo_loss(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, *,
              epsilon: float, beta: float = 0.0, ref_logps: torch.Tensor | None = None) -> GRPOLoss:
    """The loss of the module doc. ``logps``/``old_logps``/``ref_logps``/``mask`` ``[N, T]``, ``advantages [N]``."""
    mask = mask.to(logps.dtype)
    ratio = torch.exp(logps - old_logps)  # [N, T]
    clipped = torch.clamp(ratio, 1 - epsilon, 1 + epsilon)
    advantage = advantages[:, None].to(logps.dtype)  # [N, 1]
    objective = torch.minimum(ratio * advantage, clipped * advantage)  # [N, T]
    kl = torch.zeros_like(logps)
    if beta != 0:
        if ref_logps is None:
            raise ValueError("beta != 0 needs ref_logps")
        kl = k3_kl(logps, ref_logps)
        objective = objective - beta * kl
    tokens = mask.sum(dim=1)  # [N]
    kept = tokens > 0  # [N]
    per_sequence = (objective * mask).sum(dim=1) / tokens.clamp(min=1)  # [N]
    loss = -(per_sequence * kept).sum() / kept.sum().clamp(min=1)
    total = mask.sum().clamp(min=1)
    active = ((ratio < 1 - epsilon) & (advantage < 0)) | ((ratio > 1 + epsilon) & (advantage > 0))
    return GRPOLoss(loss, float((kl.detach() * mask).sum() / total),
                    float((active.to(mask.dtype) * mask).sum() / total))
