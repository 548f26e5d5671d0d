"""Token-to-expert routing of the two families, as pure functions of the router logits.

Every function takes router logits z [N, E] (float32) for N tokens and E experts and returns the
chosen experts ``selected`` [N, k] and their mixing ``weights`` [N, k] (float32); the MoE block
then computes y_n = sum_j weights[n, j] * expert_{selected[n, j]}(x_n).

LLaDA2 (sigmoid, group-limited, DeepSeek-V3 style):

    s = sigmoid(z),   c = s + expert_bias                        (c only chooses experts)
    group score g_m = sum of the 2 largest c in group m (E / n_group experts per group)
    keep the topk_group best groups, choose the k largest c among their experts
    w_j = scale * s_j / (sum_j' s_j' + 1e-20)    (renormalised when ``normalize`` and k > 1)

LLaDA-MoE (softmax, OLMoE style):

    p = softmax(z) (+ expert_bias when the model has one),   choose the k largest p,   w_j = p_j

(no renormalisation: the official module hard-codes ``norm_topk_prob = False``).

:func:`load_balancing_loss` is the auxiliary loss that keeps the experts evenly used.
"""

from __future__ import annotations

from typing import Optional

import torch


def group_limited_topk(
    choice: torch.Tensor, top_k: int, n_group: int, topk_group: int
) -> torch.Tensor:
    """Indices [N, k] of the ``top_k`` largest ``choice`` [N, E] within the best groups.

    Experts are split into ``n_group`` consecutive groups; a group's score is the sum of its two
    largest entries; only the ``topk_group`` best groups stay eligible.
    """
    n, experts = choice.shape
    grouped = choice.view(n, n_group, experts // n_group)  # [N, G, E/G]
    group_scores = grouped.topk(2, dim=-1).values.sum(dim=-1)  # [N, G]
    best_groups = group_scores.topk(topk_group, dim=-1, sorted=False).indices  # [N, topk_group]
    keep = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(1, best_groups, True)  # [N, G]
    keep = keep[:, :, None].expand_as(grouped).reshape(n, experts)  # [N, E]
    return choice.masked_fill(~keep, float("-inf")).topk(top_k, dim=-1).indices


def sigmoid_group_routing(
    logits: torch.Tensor,
    expert_bias: torch.Tensor,
    *,
    top_k: int,
    n_group: int,
    topk_group: int,
    normalize: bool,
    scaling: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """LLaDA2's router on float32 ``logits`` [N, E]; ``expert_bias`` [E] only steers the choice."""
    scores = torch.sigmoid(logits)  # [N, E]
    selected = group_limited_topk(scores + expert_bias.float(), top_k, n_group, topk_group)  # [N, k]
    weights = scores.gather(1, selected)  # [N, k]: the unbiased scores
    if normalize and top_k > 1:
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    return selected, weights * scaling


def softmax_topk_routing(
    logits: torch.Tensor, *, top_k: int, expert_bias: Optional[torch.Tensor] = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """LLaDA-MoE's router: top-k of softmax(``logits`` [N, E]) in float32, not renormalised.

    With an ``expert_bias`` [E] the official module adds it to the probabilities before the
    top-k, so it shifts the returned weights too.
    """
    probabilities = torch.softmax(logits, dim=-1, dtype=torch.float32)  # [N, E]
    if expert_bias is not None:
        probabilities = probabilities + expert_bias.float()
    weights, selected = probabilities.topk(top_k, dim=-1)  # [N, k] each
    return selected, weights


def load_balancing_loss(
    probabilities: torch.Tensor, selected: torch.Tensor, valid: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Switch-Transformer load-balancing loss (arXiv 2101.03961, eqs. 4-6) over N routed tokens.

        loss = E * sum_e f_e * P_e,   f_e = (1/N) sum_n [e in selected_n],   P_e = (1/N) sum_n p_{n,e}

    ``probabilities`` [N, E] are the router's (differentiable) probabilities, ``selected`` [N, k]
    the chosen experts, ``valid`` [N] (optional, bool) the tokens that count (not padding). It is
    ``k`` for a perfectly balanced router and grows as routing concentrates.
    """
    experts = probabilities.shape[-1]
    chosen = torch.zeros_like(probabilities).scatter_(1, selected, 1.0)  # [N, E]
    if valid is not None:
        weight = valid.to(probabilities.dtype)[:, None]  # [N, 1]
        count = weight.sum().clamp(min=1.0)
        fraction = (chosen * weight).sum(dim=0) / count  # [E]
        mean_probability = (probabilities * weight).sum(dim=0) / count  # [E]
    else:
        fraction, mean_probability = chosen.mean(dim=0), probabilities.mean(dim=0)
    return experts * (fraction * mean_probability).sum()
