"""Conformance of the noise kernels (absorbing and uniform) with their marginals q(x_t | x_0),
with alpha taken from the shared schedules."""

from __future__ import annotations

import pytest
import torch

from dllm_core.api import AbsorbingKernel, UniformKernel
from dllm_core.schedules import CosineSchedule, LinearSchedule

VOCAB = 6
MASK = 5
KERNELS = {"absorbing": AbsorbingKernel(MASK), "uniform": UniformKernel(VOCAB)}


def clean(rows: int = 4000, length: int = 5) -> torch.Tensor:
    return torch.randint(0, MASK, (rows, length), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("schedule, t", [(LinearSchedule(), 0.3), (LinearSchedule(), 0.8), (CosineSchedule(), 0.5)])
def test_draws_follow_the_marginal(name, schedule, t):
    kernel, x0 = KERNELS[name], clean()
    alpha = schedule.alpha(t)
    corrupted = kernel.corrupt(x0, torch.tensor(alpha), generator=torch.Generator().manual_seed(1))
    empirical = torch.nn.functional.one_hot(corrupted.tokens, VOCAB).float().mean(dim=(0, 1))  # [V]
    expected = kernel.marginal(x0, torch.tensor(alpha), VOCAB).mean(dim=(0, 1))  # [V]
    assert torch.allclose(empirical, expected, atol=0.01)
    # the same per position: the kept fraction is alpha (plus the uniform kernel's own-token draws)
    same = (corrupted.tokens == x0).float().mean().item()
    own_draw = 1 / VOCAB if name == "uniform" else 0.0
    assert same == pytest.approx(alpha + (1 - alpha) * own_draw, abs=0.01)
    assert corrupted.replaced.float().mean().item() == pytest.approx(1 - alpha, abs=0.01)


@pytest.mark.parametrize("name", KERNELS)
def test_alpha_one_is_clean_and_protected_positions_stay(name):
    kernel, x0 = KERNELS[name], clean(50)
    kept = kernel.corrupt(x0, torch.tensor(1.0), generator=torch.Generator().manual_seed(2))
    assert torch.equal(kept.tokens, x0) and not kept.replaced.any()
    protected = torch.zeros_like(x0, dtype=torch.bool)
    protected[:, :2] = True
    noised = kernel.corrupt(x0, torch.tensor(0.0), generator=torch.Generator().manual_seed(2), protected=protected)
    assert torch.equal(noised.tokens[:, :2], x0[:, :2]) and noised.replaced[:, 2:].all()


def test_alpha_zero_absorbs_everything_or_spreads_uniformly():
    x0 = clean()
    absorbed = KERNELS["absorbing"].corrupt(x0, torch.tensor(0.0), generator=torch.Generator().manual_seed(3))
    assert (absorbed.tokens == MASK).all()
    spread = KERNELS["uniform"].corrupt(x0, torch.tensor(0.0), generator=torch.Generator().manual_seed(3))
    counts = torch.bincount(spread.tokens.flatten(), minlength=VOCAB).float() / x0.numel()
    assert torch.allclose(counts, torch.full((VOCAB,), 1 / VOCAB), atol=0.01)
    assert (spread.tokens == MASK).any(), "the uniform kernel draws every token, the mask id included"


@pytest.mark.parametrize("name", KERNELS)
def test_per_row_alpha_and_marginal_is_a_distribution(name):
    kernel, x0 = KERNELS[name], clean(2000, 3)
    alpha = torch.where(torch.arange(2000) % 2 == 0, 0.9, 0.1)[:, None]  # [B, 1]
    corrupted = kernel.corrupt(x0, alpha, generator=torch.Generator().manual_seed(4))
    assert corrupted.replaced[0::2].float().mean().item() == pytest.approx(0.1, abs=0.02)
    assert corrupted.replaced[1::2].float().mean().item() == pytest.approx(0.9, abs=0.02)
    marginal = kernel.marginal(x0, alpha, VOCAB)
    assert torch.allclose(marginal.sum(-1), torch.ones(2000, 3))


def test_seeded_draws_repeat_and_seeds_differ():
    x0 = clean(100)
    draw = lambda seed: UniformKernel(VOCAB).corrupt(x0, torch.tensor(0.5), generator=torch.Generator().manual_seed(seed))
    assert torch.equal(draw(7).tokens, draw(7).tokens) and not torch.equal(draw(7).tokens, draw(8).tokens)


def test_bad_uniform_kernels_are_refused():
    with pytest.raises(ValueError, match="at least 2 tokens"):
        UniformKernel(1)
    with pytest.raises(ValueError, match="over 6 tokens"):
        UniformKernel(VOCAB).marginal(clean(2), torch.tensor(0.5), 7)
