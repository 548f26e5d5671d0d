"""The routers, the load-balancing loss and partial rotary embeddings on hand-computed examples."""

from __future__ import annotations

import math

import pytest
import torch

from dllm_core.api import SwiGLU
from dllm_core.modeling.rotary import rotary_cos_sin
from dllm_llada2.experts import mix_experts
from dllm_llada2.rotary import PartialRotary
from dllm_llada2.routing import (
    group_limited_topk,
    load_balancing_loss,
    sigmoid_group_routing,
    softmax_topk_routing,
)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_sigmoid_group_router_by_hand():
    """4 experts in 2 groups {0, 1} / {2, 3}, top-1 group, k = 2.

    scores s = sigmoid([0, 1, 2, -1]) = [.500, .731, .881, .269]; bias [0, 0, .3, 0] gives choice
    scores c = [.500, .731, 1.181, .269]. Group scores (sum of the best two): {0, 1}: 1.231,
    {2, 3}: 1.450, so group {2, 3} wins and the experts are 2 and 3 (a plain top-2 would take 2
    and 1). Weights are the unbiased scores, renormalised, times the scaling 2.5.
    """
    logits = torch.tensor([[0.0, 1.0, 2.0, -1.0]])
    bias = torch.tensor([0.0, 0.0, 0.3, 0.0])
    selected, weights = sigmoid_group_routing(logits, bias, top_k=2, n_group=2, topk_group=1,
                                              normalize=True, scaling=2.5)
    s2, s3 = _sigmoid(2.0), _sigmoid(-1.0)
    assert selected.tolist() == [[2, 3]]
    torch.testing.assert_close(weights, torch.tensor([[2.5 * s2 / (s2 + s3), 2.5 * s3 / (s2 + s3)]]))
    # without the bias group {0, 1} (1.231) beats {2, 3} (1.150): experts 1 and 0
    selected, weights = sigmoid_group_routing(logits, torch.zeros(4), top_k=2, n_group=2, topk_group=1,
                                              normalize=False, scaling=1.0)
    assert selected.tolist() == [[1, 0]]
    torch.testing.assert_close(weights, torch.tensor([[_sigmoid(1.0), _sigmoid(0.0)]]))


def test_group_limited_topk_scores_a_group_by_its_two_best_experts():
    # group {0, 1, 2}: best two .9 + .1 = 1.0 (although it holds the overall best expert);
    # group {3, 4, 5}: .6 + .5 = 1.1 wins
    choice = torch.tensor([[0.9, 0.1, 0.0, 0.6, 0.5, 0.2]])
    assert group_limited_topk(choice, 2, n_group=2, topk_group=1).tolist() == [[3, 4]]
    assert group_limited_topk(choice, 2, n_group=2, topk_group=2).tolist() == [[0, 3]]


def test_softmax_router_by_hand_is_not_renormalised():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    total = sum(math.exp(z) for z in (1.0, 3.0, 2.0, 0.0))
    selected, weights = softmax_topk_routing(logits, top_k=2)
    assert selected.tolist() == [[1, 2]]
    torch.testing.assert_close(weights, torch.tensor([[math.exp(3.0) / total, math.exp(2.0) / total]]))
    assert float(weights.sum()) < 0.95  # the chosen probabilities keep their softmax values
    # an expert bias is added to the probabilities before the top-k (and stays in the weights)
    selected, weights = softmax_topk_routing(logits, top_k=2, expert_bias=torch.tensor([0.5, 0.0, 0.0, 0.0]))
    p0 = math.exp(1.0) / total
    assert selected.tolist() == [[1, 0]]
    torch.testing.assert_close(weights, torch.tensor([[math.exp(3.0) / total, p0 + 0.5]]))


def test_load_balancing_loss_by_hand():
    """E = 2, k = 1: both tokens pick expert 0. f = [1, 0], P = mean probabilities."""
    probabilities = torch.tensor([[0.9, 0.1], [0.8, 0.2]])
    selected = torch.tensor([[0], [0]])
    torch.testing.assert_close(load_balancing_loss(probabilities, selected), torch.tensor(2 * 0.85))
    valid = torch.tensor([True, False])  # only the first token counts
    torch.testing.assert_close(load_balancing_loss(probabilities, selected, valid), torch.tensor(2 * 0.9))
    # a balanced router scores k: uniform probabilities, each expert chosen by half the tokens
    uniform = torch.full((4, 2), 0.5)
    torch.testing.assert_close(load_balancing_loss(uniform, torch.tensor([[0], [1], [0], [1]])), torch.tensor(1.0))


def test_mix_experts_weights_each_chosen_expert():
    torch.manual_seed(0)
    experts = torch.nn.ModuleList(SwiGLU(8, 4, "silu") for _ in range(3))
    x = torch.randn(5, 8)
    selected = torch.tensor([[0, 2], [1, 0], [2, 1], [0, 1], [2, 0]])
    weights = torch.rand(5, 2)
    expected = torch.stack([
        sum(weights[n, j] * experts[int(selected[n, j])](x[n]) for j in range(2)) for n in range(5)
    ])
    torch.testing.assert_close(mix_experts(x, experts, selected, weights), expected)


def _official_partial_rope(x: torch.Tensor, positions: torch.Tensor, rotary_dim: int, base: float) -> torch.Tensor:
    """The hub models' formula: rotate-half over the first ``rotary_dim`` features of [B, H, q, Dh]."""
    inv_freq = 1.0 / base ** (torch.arange(0, rotary_dim, 2).float() / rotary_dim)
    angles = positions.float()[:, None] * inv_freq  # [q, R/2]
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    rot, rest = x[..., :rotary_dim], x[..., rotary_dim:]
    half = rotary_dim // 2
    rotated = rot * cos + torch.cat((-rot[..., half:], rot[..., :half]), -1) * sin
    return torch.cat((rotated, rest), -1)


@pytest.mark.parametrize("factor", [0.5, 0.25, 1.0])
def test_partial_rotary_layout_gives_the_official_attention_scores(factor):
    """Scores q.k after the official partial RoPE equal those after the layout permutation and
    the core's full-width rotation with our tables."""
    from dllm_core.modeling.rotary import apply_rotary

    torch.manual_seed(0)
    head_dim, heads, length = 16, 2, 6
    rotary = PartialRotary.from_factor(head_dim, factor, 1000.0)
    q, k = torch.randn(1, length, heads * head_dim), torch.randn(1, length, heads * head_dim)
    positions = torch.arange(3, 3 + length)
    as_heads = lambda t: t.view(1, length, heads, head_dim).transpose(1, 2)  # noqa: E731
    official_q = _official_partial_rope(as_heads(q), positions, rotary.rotary_dim, 1000.0)
    official_k = _official_partial_rope(as_heads(k), positions, rotary.rotary_dim, 1000.0)
    cos, sin = rotary.tables(positions[None])
    ours_q = apply_rotary(as_heads(rotary.to_rotary_layout(q)), cos, sin, False)
    ours_k = apply_rotary(as_heads(rotary.to_rotary_layout(k)), cos, sin, False)
    torch.testing.assert_close(ours_q @ ours_k.transpose(-1, -2), official_q @ official_k.transpose(-1, -2),
                               atol=1e-5, rtol=1e-5)
    if factor == 1.0:
        torch.testing.assert_close(cos, rotary_cos_sin(positions[None], head_dim, 1000.0)[0])


def test_partial_rotary_rejects_an_odd_rotary_part():
    with pytest.raises(ValueError, match="partial_rotary_factor"):
        PartialRotary.from_factor(10, 0.5, 1000.0)  # 5 rotary features cannot be rotated in halves
