"""Dream's CART weighting: the vectorised weights against a direct loop, and the loss using them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dllm_core.objectives import BlockDiffusionConfig, MaskedDiffusionConfig, MaskedDiffusionObjective
from dllm_core.objectives.cart import cart_weights

MASK_ID, VOCAB = 9, 10


def slow_cart(masked: list[list[bool]], context: list[list[bool]], p: float) -> list[list[float]]:
    """The docs/algorithms.md formula, position by position."""
    weights = []
    for row_masked, row_context in zip(masked, context):
        row = []
        for i, is_masked in enumerate(row_masked):
            total = 0.0
            if is_masked:
                for j, (j_masked, j_context) in enumerate(zip(row_masked, row_context)):
                    if j_context and not j_masked:
                        total += 0.5 * p * (1 - p) ** (abs(i - j) - 1)
            row.append(total)
        weights.append(row)
    return weights


@pytest.mark.parametrize("p", [0.3, 0.05, 1.0])
def test_cart_weights_match_the_direct_computation(p: float) -> None:
    generator = torch.Generator().manual_seed(0)
    masked = torch.rand(5, 23, generator=generator) < 0.6
    context = torch.rand(5, 23, generator=generator) < 0.85
    expected = torch.tensor(slow_cart(masked.tolist(), context.tolist(), p))
    torch.testing.assert_close(cart_weights(masked, context, p), expected, rtol=1e-5, atol=1e-7)


def test_cart_weights_known_values() -> None:
    # x M M x : each mask has one neighbour at distance 1 and one at distance 2
    masked = torch.tensor([[False, True, True, False]])
    weights = cart_weights(masked, torch.ones_like(masked), 0.3)
    expected = 0.5 * 0.3 * (1 + 0.7)
    torch.testing.assert_close(weights, torch.tensor([[0.0, expected, expected, 0.0]]))
    # a mask deep inside a long clean stretch weighs close to 1 (the kernel sums to 1)
    long = torch.zeros(1, 201, dtype=torch.bool)
    long[0, 100] = True
    assert abs(cart_weights(long, torch.ones_like(long))[0, 100].item() - 1) < 1e-6


def test_padding_is_not_context_but_the_prompt_is() -> None:
    masked = torch.tensor([[False, False, True, False, False]])
    all_real = cart_weights(masked, torch.ones_like(masked))
    no_tail = cart_weights(masked, torch.tensor([[True, True, True, False, False]]))
    assert no_tail[0, 2] < all_real[0, 2]
    torch.testing.assert_close(no_tail[0, 2], torch.tensor(0.5 * 0.3 * (1 + 0.7)))


class TableModel(nn.Module):
    """Logits at position i are ``table[i]``, whatever the input."""

    def __init__(self, length: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(length, VOCAB, generator=torch.Generator().manual_seed(1)))
        self.config = SimpleNamespace(mask_token_id=MASK_ID)

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        return SimpleNamespace(logits=self.table[None].expand(input_ids.shape[0], -1, -1))


@pytest.mark.parametrize("shift", [False, True])
def test_cart_loss_is_cart_weighted_cross_entropy_over_maskable_tokens(shift: bool) -> None:
    length = 10
    ids = torch.randint(0, MASK_ID, (2, length), generator=torch.Generator().manual_seed(2))
    labels = ids.clone()
    labels[:, :3] = -100  # prompt
    labels[1, 8:] = -100  # padding of row 1
    attention_mask = torch.ones_like(ids)
    attention_mask[1, 8:] = 0
    batch = {"input_ids": ids, "labels": labels, "attention_mask": attention_mask}
    masked = torch.zeros(2, length, dtype=torch.bool)
    masked[0, [3, 4, 7]] = True
    masked[1, [5, 6]] = True
    model = TableModel(length)
    config = MaskedDiffusionConfig(weighting="cart", cart_p=0.4, logit_shift=shift)
    out = MaskedDiffusionObjective(config).loss_at(model, batch, t=torch.tensor([0.3, 0.6]), masked=masked)

    log_probs = F.log_softmax(model.table.detach(), dim=-1)
    if shift:
        log_probs = torch.cat([log_probs[:1], log_probs[:-1]])
    weights = slow_cart(masked.tolist(), attention_mask.bool().tolist(), 0.4)
    total = sum(-log_probs[i, ids[b, i]] * weights[b][i] for b in range(2) for i in range(length) if masked[b, i])
    maskable = int((labels != -100).sum())
    torch.testing.assert_close(out.loss.detach(), total / maskable)
    # the bound metric keeps the schedule weighting
    bound = sum(-log_probs[i, ids[b, i]] / t for b, t in ((0, 0.3), (1, 0.6)) for i in range(length) if masked[b, i])
    torch.testing.assert_close(out.metrics["nll_bound"], bound / maskable)


def test_cart_config_validation() -> None:
    with pytest.raises(ValueError, match="cart_p"):
        MaskedDiffusionConfig(weighting="cart", cart_p=0.0)
    with pytest.raises(ValueError, match="weighting"):
        BlockDiffusionConfig(weighting="cart")  # block diffusion does not implement CART
