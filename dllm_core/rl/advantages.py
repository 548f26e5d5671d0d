"""Group-relative advantages (GRPO, arXiv 2402.03300; d1, arXiv 2504.12216).

The N = P * G samples of a batch are P groups of G completions of one prompt, laid out group
after group (rows ``g*G .. g*G + G - 1`` answer prompt g). For sample i of group g with reward
r_i,

    A_i = (r_i - mean_g(r)) / (std_g(r) + eps)       (scale=True, trl's default)
    A_i =  r_i - mean_g(r)                            (scale=False, Dr. GRPO)

where mean and std (unbiased, as ``torch.std``) are over the group's samples whose reward is a
number: a sample whose reward failed (NaN) is left out of its group's statistics and gets
A = 0 and ``valid = False``, so it does not move the policy. A group with one valid sample has
std 0 and that sample A = 0 (nothing to compare with).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class GroupAdvantages:
    """``advantages [N]``, ``valid [N]`` (bool: reward is a number) and per-group reward std ``[P]``."""

    advantages: torch.Tensor
    valid: torch.Tensor
    group_std: torch.Tensor


def group_advantages(rewards: torch.Tensor, group_size: int, *, scale: bool = True,
                     eps: float = 1e-4) -> GroupAdvantages:
    """Advantages of ``rewards [N]`` (NaN: failed) in groups of ``group_size`` (module doc)."""
    if group_size < 1 or rewards.dim() != 1 or rewards.numel() % group_size:
        raise ValueError(f"rewards must be [N] with N a multiple of group_size={group_size}, "
                         f"got shape {list(rewards.shape)}")
    grouped = rewards.double().view(-1, group_size)  # [P, G]
    valid = ~torch.isnan(grouped)  # [P, G]
    count = valid.sum(dim=1, keepdim=True)  # [P, 1]
    filled = torch.where(valid, grouped, torch.zeros_like(grouped))
    mean = filled.sum(dim=1, keepdim=True) / count.clamp(min=1)  # [P, 1]
    squares = torch.where(valid, (grouped - mean) ** 2, torch.zeros_like(grouped)).sum(dim=1, keepdim=True)
    std = torch.sqrt(squares / (count - 1).clamp(min=1))  # [P, 1]
    centred = torch.where(valid, grouped - mean, torch.zeros_like(grouped))  # [P, G]
    advantages = centred / (std + eps) if scale else centred
    return GroupAdvantages(advantages.view(-1).to(rewards.dtype), valid.view(-1), std.view(-1).to(rewards.dtype))
