"""The routed mixture of experts of both families. Every expert (and a dense layer's MLP, and a
shared expert) is the core's SwiGLU, with the hub weight names ``gate_proj`` / ``up_proj`` /
``down_proj``:

    MLP(x) = down_proj(act(gate_proj(x)) * up_proj(x))

Mixture over routed experts for N tokens x_n [N, D] (routing from :mod:`dllm_llada2.routing`):

    y_n = sum_j w_{n,j} * MLP_{e_{n,j}}(x_n)

weighted in the wider dtype of the activations and the weights w (float32 for LLaDA2's float32
weights; LLaDA-MoE passes weights cast to the activations' dtype, as the hub models do), summed
over the k slots and returned in the activations' dtype.
"""

from __future__ import annotations

import torch
from torch import nn


def mix_experts(
    x: torch.Tensor,  # [N, D]
    experts: nn.ModuleList,
    selected: torch.Tensor,  # [N, k]
    weights: torch.Tensor,  # [N, k]
) -> torch.Tensor:  # [N, D]
    """``y_n = sum_j weights[n, j] * experts[selected[n, j]](x_n)``.

    The N*k (token, slot) pairs are sorted by expert once and each expert runs on its run of
    tokens; every weighted output lands in its pair's row and the k rows of a token are summed
    in slot order (deterministic, no atomic adds). With gradients enabled an expert with no
    tokens still runs (on none), so that every expert takes part in the graph as data-parallel
    training expects; without, it is skipped.
    """
    n, k = selected.shape
    order = selected.reshape(-1).argsort()  # [N*k]: pair indices n * k + j grouped by expert
    counts = torch.bincount(selected.reshape(-1), minlength=len(experts)).tolist()  # [E]
    pairs = torch.empty((n * k, x.shape[1]), dtype=torch.promote_types(x.dtype, weights.dtype), device=x.device)
    flat_weights = weights.reshape(-1)  # [N*k]
    start = 0
    for expert, count in zip(experts, counts):
        if count or torch.is_grad_enabled():
            pair = order[start:start + count]  # [n_e]
            pairs[pair] = expert(x[pair // k]) * flat_weights[pair, None]  # [n_e, D]
        start += count
    return pairs.view(n, k, -1).sum(dim=1).to(x.dtype)  # [N, D]
