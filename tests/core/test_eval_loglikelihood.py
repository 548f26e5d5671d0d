"""The Monte-Carlo ELBO of dllm_core.evaluation.loglikelihood on models whose predictions do not
depend on the context, where the bound is tight: its estimate must converge to log p exactly."""

from __future__ import annotations

import pytest
import torch

from dllm_core.evaluation.loglikelihood import (
    ElboConfig,
    is_greedy,
    negative_elbo,
    random_subsets,
    stratified_mask_counts,
)

MASK = 0


class PositionwiseLM(torch.nn.Module):
    """Logits depend on the position only: ``logits[:, i] = table[i]`` whatever the tokens, so
    p(y | c) = prod_j softmax(table[pos_j])[y_j] with or without masks. Records its inputs."""

    def __init__(self, length: int = 16, vocab: int = 11, seed: int = 0) -> None:
        super().__init__()
        self.table = torch.randn(length, vocab, generator=torch.Generator().manual_seed(seed)) * 2
        self.inputs: list[torch.Tensor] = []

    def forward(self, tokens: torch.Tensor, logits_to_keep: slice | None = None) -> torch.Tensor:
        self.inputs.append(tokens.clone())
        logits = self.table[: tokens.shape[1]].expand(tokens.shape[0], -1, -1)  # [R, L, V]
        return logits if logits_to_keep is None else logits[:, logits_to_keep]


CONTEXT = torch.tensor([1, 2, 3])
CONTINUATION = torch.tensor([4, 5, 6, 7, 8, 9])


def exact_log_likelihood(model: PositionwiseLM, context: torch.Tensor, continuation: torch.Tensor,
                         shift: bool) -> float:
    """Sum of log-probabilities of the continuation tokens; with the shift, position i is read
    from row i - 1 of the table (row 0 for position 0)."""
    start = len(context)
    rows = [max(start + j - 1, 0) if shift else start + j for j in range(len(continuation))]
    log_probs = torch.log_softmax(model.table[rows], dim=-1)  # [n, V]
    return log_probs[torch.arange(len(continuation)), continuation].sum().item()


def estimate(model: torch.nn.Module, mc_num: int, seed: int, **config: object) -> float:
    elbo = ElboConfig(mask_token_id=MASK, mc_num=mc_num, batch_size=64, **config)
    return -negative_elbo(model, CONTEXT, CONTINUATION, elbo, torch.Generator().manual_seed(seed))


def test_mc_elbo_converges_to_the_exact_log_likelihood():
    model = PositionwiseLM()
    exact = exact_log_likelihood(model, CONTEXT, CONTINUATION, shift=False)
    few = [abs(estimate(model, 16, seed) - exact) for seed in range(6)]
    many = [abs(estimate(model, 4096, seed) - exact) for seed in range(6)]
    # one draw's standard deviation is about 6 nats here, so 4096 draws give about 0.1
    assert max(many) < 0.5
    assert sum(many) / len(many) < sum(few) / len(few) / 4


@pytest.mark.parametrize("shift", [False, True])
@pytest.mark.parametrize("slice_logits", [False, True])
def test_logit_shift_and_lm_head_slicing_read_the_right_positions(shift, slice_logits):
    model = PositionwiseLM(seed=1)
    exact = exact_log_likelihood(model, CONTEXT, CONTINUATION, shift=shift)
    assert estimate(model, 4096, 0, logit_shift=shift, slice_logits=slice_logits) == pytest.approx(exact, abs=0.5)


def test_empty_context_with_shift_keeps_position_zero():
    model = PositionwiseLM(seed=2)
    empty = torch.tensor([], dtype=torch.long)
    config = ElboConfig(mask_token_id=MASK, mc_num=4096, batch_size=64, logit_shift=True, slice_logits=True)
    value = -negative_elbo(model, empty, CONTINUATION, config, torch.Generator().manual_seed(0))
    assert value == pytest.approx(exact_log_likelihood(model, empty, CONTINUATION, shift=True), abs=0.5)


def test_context_is_never_masked_and_each_row_masks_its_count():
    model = PositionwiseLM()
    config = ElboConfig(mask_token_id=MASK, mc_num=10, batch_size=4)
    negative_elbo(model, CONTEXT, CONTINUATION, config, torch.Generator().manual_seed(3))
    rows = torch.cat(model.inputs)  # [10, 9]
    assert [len(batch) for batch in model.inputs] == [4, 4, 2]
    assert torch.equal(rows[:, :3], CONTEXT.expand(10, 3))
    tail = rows[:, 3:]
    masked = tail == MASK
    assert torch.equal(torch.where(masked, CONTINUATION.expand(10, 6), tail), CONTINUATION.expand(10, 6))
    assert masked.sum(dim=1).min() >= 1


def test_stratified_counts_cover_the_range_and_are_uniform():
    generator = torch.Generator().manual_seed(0)
    counts = stratified_mask_counts(6, 6, generator)
    assert sorted(counts.tolist()) == [1, 2, 3, 4, 5, 6]  # one row per count when rows == n
    draws = torch.cat([stratified_mask_counts(7, 3, generator) for _ in range(3000)])
    frequencies = torch.bincount(draws, minlength=8)[1:].float() / len(draws)
    assert draws.min() >= 1 and draws.max() <= 7
    assert torch.allclose(frequencies, torch.full((7,), 1 / 7), atol=0.02)


def test_random_subsets_have_the_asked_sizes_and_uniform_positions():
    generator = torch.Generator().manual_seed(0)
    counts = torch.tensor([1, 3, 5] * 2000)
    subsets = random_subsets(counts, 5, generator)
    assert torch.equal(subsets.sum(dim=1), counts)
    by_position = subsets[counts == 3].float().mean(dim=0)
    assert torch.allclose(by_position, torch.full((5,), 3 / 5), atol=0.04)


def test_greedy_check_is_the_argmax_with_every_continuation_token_masked():
    model = PositionwiseLM(seed=4)
    start = len(CONTEXT)
    argmax = model.table[start:start + 6].argmax(dim=-1)
    config = ElboConfig(mask_token_id=MASK)
    assert is_greedy(model, CONTEXT, argmax, config)
    other = argmax.clone()
    other[2] = (other[2] + 1) % model.table.shape[1]
    assert not is_greedy(model, CONTEXT, other, config)
    masked_input = model.inputs[-1][0]
    assert torch.equal(masked_input[:start], CONTEXT) and bool((masked_input[start:] == MASK).all())
