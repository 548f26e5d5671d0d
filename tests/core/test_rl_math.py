"""diffu-GRPO math: advantages and the clipped objective against hand-computed values, and the
one-forward log-probability estimates (d1's, the coupled and the trajectory one) against a direct
position-by-position computation."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

transformers = pytest.importorskip("transformers")

from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from dllm_core.objectives import BlockDiffusionConfig, BlockDiffusionObjective, MaskedDiffusionObjective  # noqa: E402
from dllm_core.rl.advantages import group_advantages  # noqa: E402
from dllm_core.errors import DllmError  # noqa: E402
from dllm_core.rl.logprobs import (  # noqa: E402
    COUPLED_RATIO, completion_logprobs, completion_mask, coupled_masks, perturb, scoring_canvases, scoring_copies,
    trajectory_chunks,
)
from dllm_core.rl.objective import grpo_loss, k3_kl  # noqa: E402

VOCAB, PAD, MASK, EOS = 16, 14, 15, 13


def test_group_advantages_match_hand_computed_values():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    result = group_advantages(rewards, 4, eps=1e-4)
    std = math.sqrt(4 * 0.25 / 3)  # unbiased std of (1, 0, 0, 1)
    a = 0.5 / (std + 1e-4)
    expected = [a, -a, -a, a, 0.0, 0.0, 0.0, 0.0]
    assert result.advantages.tolist() == pytest.approx(expected)
    assert result.group_std.tolist() == pytest.approx([std, 0.0])
    assert result.valid.all()
    unscaled = group_advantages(rewards, 4, scale=False)
    assert unscaled.advantages.tolist() == pytest.approx([0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0])


def test_failed_rewards_are_left_out_of_their_group():
    rewards = torch.tensor([1.0, math.nan, 0.0, 0.5, math.nan, 3.0])
    result = group_advantages(rewards, 3)
    # group 1: valid (1, 0), mean 0.5, std sqrt(0.5); group 2: (0.5, 3), mean 1.75, std 1.25 sqrt(2)
    a, b = 0.5 / (math.sqrt(0.5) + 1e-4), 1.25 / (1.25 * math.sqrt(2) + 1e-4)
    assert result.advantages.tolist() == pytest.approx([a, 0.0, -a, -b, 0.0, b])
    lonely = group_advantages(torch.tensor([math.nan, 2.0, math.nan]), 3)  # one valid sample: nothing to compare
    assert lonely.advantages.tolist() == [0.0, 0.0, 0.0]
    assert result.valid.tolist() == [True, False, True, True, False, True]
    with pytest.raises(ValueError, match="multiple of group_size"):
        group_advantages(torch.zeros(5), 2)


def test_clipped_objective_matches_hand_computed_values_and_gradients():
    old = torch.tensor([[-1.0, -2.0], [-0.5, -1.5]])
    ratios = torch.tensor([[1.5, 0.5], [1.5, 0.5]])
    logps = (old + ratios.log()).requires_grad_(True)
    advantages = torch.tensor([1.0, -1.0])
    result = grpo_loss(logps, old, advantages, torch.ones(2, 2), epsilon=0.2)
    # seq 1 (A=+1): min(1.5, 1.2) = 1.2, min(0.5, 0.8) = 0.5 -> 0.85
    # seq 2 (A=-1): min(-1.5, -1.2) = -1.5, min(-0.5, -0.8) = -0.8 -> -1.15
    assert result.loss.item() == pytest.approx(-(0.85 - 1.15) / 2)
    assert result.clip_fraction == pytest.approx(0.5)  # (1,1): ratio > 1+eps, A > 0; (2,2): ratio < 1-eps, A < 0
    result.loss.backward()
    # d/dl of -(1/N)(1/T) rho A where not clipped: -(1/4) rho A; clipped tokens get no gradient
    assert logps.grad.flatten().tolist() == pytest.approx([0.0, -0.125, 0.375, 0.0])


def test_kl_penalty_and_mask():
    logps = torch.tensor([[-1.0, -1.0, -3.0]])
    ref = logps + torch.tensor([[math.log(2.0), 0.0, 5.0]])
    assert k3_kl(logps, ref)[0].tolist() == pytest.approx([2 - math.log(2) - 1, 0.0, math.exp(5) - 5 - 1])
    mask = torch.tensor([[1.0, 1.0, 0.0]])  # the third token is after the stop: not scored
    result = grpo_loss(logps, logps, torch.tensor([0.0]), mask, epsilon=0.2, beta=0.1, ref_logps=ref)
    kl = (2 - math.log(2) - 1) / 2
    assert result.kl == pytest.approx(kl)
    assert result.loss.item() == pytest.approx(0.1 * kl)
    nothing = grpo_loss(logps, logps, torch.tensor([1.0]), torch.zeros(1, 3), epsilon=0.2)
    assert nothing.loss.item() == 0.0


def test_completion_mask_keeps_tokens_up_to_the_first_stop():
    ids = torch.tensor([[3, 4, EOS, 5, EOS], [1, 2, 3, 4, 5]])
    assert completion_mask(ids, [EOS]).tolist() == [[True, True, True, False, False], [True] * 5]


def _model(seed: int = 0) -> LlamaForCausalLM:
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                         is_causal=False, pad_token_id=PAD, mask_token_id=MASK)
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()


def _rows() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    prompt = torch.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
    completion = torch.tensor([[3, 1, 4, 1], [5, 9, 2, 6]])
    return prompt, torch.ones_like(prompt), completion


@pytest.mark.parametrize("shift", [False, True])
def test_logprobs_equal_a_direct_computation(shift):
    model = _model()
    prompt, prompt_mask, completion = _rows()
    objective = MaskedDiffusionObjective()
    family = SimpleNamespace(logit_shift=shift, name="toy")
    seed = 7
    estimate = completion_logprobs(model, prompt, prompt_mask, completion, mask_id=MASK, p_mask_prompt=0.5,
                                   family=family, objective=objective,
                                   generator=torch.Generator().manual_seed(seed))
    noisy = perturb(prompt, prompt_mask, completion, mask_id=MASK, p_mask_prompt=0.5,
                    generator=torch.Generator().manual_seed(seed))
    assert (noisy[:, 5:] == MASK).all()
    direct = torch.zeros_like(estimate)
    with torch.no_grad():
        for n in range(prompt.shape[0]):
            log_probs = model(input_ids=noisy[n:n + 1]).logits[0].log_softmax(-1)  # [L, V], one row alone
            for k in range(completion.shape[1]):
                source = 5 + k - 1 if shift else 5 + k
                direct[n, k] = log_probs[source, completion[n, k]]
    assert torch.allclose(estimate, direct, atol=1e-5)


def test_prompt_masking_follows_p_mask_prompt_and_leaves_padding():
    prompt = torch.full((64, 50), 3)
    prompt_mask = torch.ones_like(prompt)
    prompt_mask[:, :10] = 0  # left padding
    completion = torch.full((64, 4), 2)
    for p, expected in ((0.0, 0.0), (1.0, 1.0), (0.3, 0.3)):
        noisy = perturb(prompt, prompt_mask, completion, mask_id=MASK, p_mask_prompt=p,
                        generator=torch.Generator().manual_seed(0))
        assert not (noisy[:, :10] == MASK).any()
        assert (noisy[:, 10:50] == MASK).float().mean().item() == pytest.approx(expected, abs=0.02)
        assert (noisy[:, 50:] == MASK).all()


def test_block_diffusion_logprobs_read_each_block_from_itself_and_earlier_clean_blocks():
    model = _model(1)
    prompt, prompt_mask, completion = _rows()
    objective = BlockDiffusionObjective(BlockDiffusionConfig(block_size=2))
    kwargs = dict(mask_id=MASK, family=None, objective=objective)
    base = completion_logprobs(model, prompt, prompt_mask, completion, p_mask_prompt=0.0, **kwargs)
    # the prompt blocks are read clean: masking the x_t copy of the prompt changes nothing
    masked_prompt = completion_logprobs(model, prompt, prompt_mask, completion, p_mask_prompt=1.0, **kwargs)
    assert torch.allclose(base, masked_prompt, atol=1e-5)
    # changing the second completion block leaves the first block's estimate alone, and moves the second's
    changed = completion.clone()
    changed[:, 2:] = torch.tensor([[7, 7], [8, 8]])
    other = completion_logprobs(model, prompt, prompt_mask, changed, p_mask_prompt=0.0, **kwargs)
    assert torch.allclose(base[:, :2], other[:, :2], atol=1e-5)
    assert not torch.allclose(base[:, 2:], other[:, 2:], atol=1e-3)
    # the first completion block depends on the clean prompt
    other_prompt = completion_logprobs(model, prompt.flip(1), prompt_mask, completion, p_mask_prompt=0.0, **kwargs)
    assert not torch.allclose(base[:, :2], other_prompt[:, :2], atol=1e-3)


@pytest.mark.parametrize("shift", [False, True])
def test_coupled_logprobs_equal_a_direct_computation(shift):
    """Each token is read from the half of the 2N batch in which it is masked, the other half's
    answer tokens visible: the same numbers as running that half's row alone."""
    model = _model(2)
    prompt, prompt_mask, completion = _rows()
    family = SimpleNamespace(logit_shift=shift, name="toy")
    seed = 11
    estimate = completion_logprobs(model, prompt, prompt_mask, completion, mask_id=MASK, p_mask_prompt=0.3,
                                   family=family, objective=MaskedDiffusionObjective(),
                                   generator=torch.Generator().manual_seed(seed), estimator="coupled")
    generator = torch.Generator().manual_seed(seed)  # the same draws, in the same order
    noisy = perturb(prompt, prompt_mask, completion, mask_id=MASK, p_mask_prompt=0.3, generator=generator)
    first = coupled_masks(completion, generator)
    direct = torch.zeros_like(estimate)
    with torch.no_grad():
        for n in range(prompt.shape[0]):
            for masked in (first[n], ~first[n]):
                row = torch.cat([noisy[n, :5], completion[n].masked_fill(masked, MASK)])[None]  # [1, P + T]
                log_probs = model(input_ids=row).logits[0].log_softmax(-1)  # [L, V]
                for k in torch.nonzero(masked).flatten().tolist():
                    source = 5 + k - 1 if shift else 5 + k
                    direct[n, k] = log_probs[source, completion[n, k]]
    assert torch.allclose(estimate, direct, atol=1e-5)


def test_coupled_estimate_sees_the_other_answer_tokens_and_d1_does_not():
    model = _model(3)
    prompt, prompt_mask, completion = _rows()
    kwargs = dict(mask_id=MASK, p_mask_prompt=0.0, family=None, objective=MaskedDiffusionObjective())
    changed = completion.clone()
    changed[:, 3] = torch.tensor([7, 8])  # only the last answer token differs

    def both(estimator: str) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(completion_logprobs(model, prompt, prompt_mask, c, generator=torch.Generator().manual_seed(5),
                                         estimator=estimator, **kwargs) for c in (completion, changed))

    d1, d1_changed = both("d1")
    assert torch.allclose(d1[:, :3], d1_changed[:, :3], atol=1e-6)  # every answer token is masked
    coupled, coupled_changed = both("coupled")
    assert not torch.allclose(coupled[:, :3], coupled_changed[:, :3], atol=1e-4)
    with pytest.raises(DllmError, match="unknown log-probability estimator 'elbo'"):
        completion_logprobs(model, prompt, prompt_mask, completion, estimator="elbo", **kwargs)


def test_coupled_mask_ratios_stay_in_their_range():
    masks = coupled_masks(torch.zeros(400, 200, dtype=torch.long), torch.Generator().manual_seed(0))
    ratios = masks.float().mean(dim=1)  # [N], each near its own t
    low, high = COUPLED_RATIO
    assert low - 0.12 < ratios.min() and ratios.max() < high + 0.12
    assert ratios.mean().item() == pytest.approx((low + high) / 2, abs=0.03)
    assert ratios.std().item() > 0.1  # one t per completion, not one for all


@pytest.mark.parametrize(("shift", "shrinkage"), [(False, 1), (True, 1), (False, 2)])
def test_trajectory_logprobs_equal_a_direct_computation(shift, shrinkage):
    """Each token is read from the canvas its chunk of sampler steps started from: the tokens of
    earlier chunks visible, its own chunk and later ones masked."""
    model = _model(4)
    prompt, prompt_mask, completion = _rows()
    commit_steps = torch.tensor([[2, 0, 3, 1], [1, 3, 0, -1]])  # row 2's last token: never committed
    family = SimpleNamespace(logit_shift=shift, name="toy")
    estimate = completion_logprobs(model, prompt, prompt_mask, completion, mask_id=MASK, p_mask_prompt=0.3,
                                   family=family, objective=MaskedDiffusionObjective(),
                                   generator=torch.Generator().manual_seed(3), estimator="trajectory",
                                   commit_steps=commit_steps, shrinkage=shrinkage)
    noisy = perturb(prompt, prompt_mask, completion, mask_id=MASK, p_mask_prompt=0.3,
                    generator=torch.Generator().manual_seed(3))
    chunk = commit_steps.clamp(min=0) // shrinkage
    chunk[commit_steps < 0] = 3 // shrinkage  # the last chunk of the run
    direct = torch.zeros_like(estimate)
    with torch.no_grad():
        for n in range(2):
            for k in range(4):
                hidden = chunk[n] >= chunk[n, k]  # this token's chunk and every later one
                row = torch.cat([noisy[n, :5], completion[n].masked_fill(hidden, MASK)])[None]  # [1, P + T]
                log_probs = model(input_ids=row).logits[0].log_softmax(-1)  # [L, V]
                direct[n, k] = log_probs[5 + k - 1 if shift else 5 + k, completion[n, k]]
    assert torch.allclose(estimate, direct, atol=1e-5)


def test_trajectory_estimate_follows_the_commit_order():
    """The first-committed token is scored as d1 scores it (answer all masked); a token committed
    last sees every other answer token, so changing those changes its estimate."""
    model = _model(5)
    prompt, prompt_mask, completion = _rows()
    kwargs = dict(mask_id=MASK, p_mask_prompt=0.0, family=None, objective=MaskedDiffusionObjective())
    order = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]])
    trajectory = completion_logprobs(model, prompt, prompt_mask, completion, estimator="trajectory",
                                     commit_steps=order, **kwargs, shrinkage=1)
    d1 = completion_logprobs(model, prompt, prompt_mask, completion, estimator="d1", **kwargs)
    assert torch.allclose(trajectory[0, 0], d1[0, 0], atol=1e-6) and torch.allclose(trajectory[1, 3], d1[1, 3], atol=1e-6)
    assert not torch.allclose(trajectory[0, 3], d1[0, 3], atol=1e-4)
    one_chunk = completion_logprobs(model, prompt, prompt_mask, completion, estimator="trajectory",
                                    commit_steps=order, **kwargs, shrinkage=4)
    assert torch.allclose(one_chunk, d1, atol=1e-6)  # one canvas for the whole run: d1's estimate
    with pytest.raises(DllmError, match="commit step"):
        completion_logprobs(model, prompt, prompt_mask, completion, estimator="trajectory", **kwargs)
    with pytest.raises(DllmError, match="trajectory-shrinkage must be at least 1"):
        trajectory_chunks(order, 0)


def test_each_estimator_counts_the_copies_its_forward_scores():
    """The copy count (what the trainer's FLOP estimate multiplies by) is the number of canvases
    the scoring forward stacks: d1 one, coupled two, trajectory one per chunk of steps."""
    completion = torch.tensor([[7, 8, 9, 10], [11, 12, 13, 14]])
    steps = torch.tensor([[0, 1, 5, -1], [2, 3, 4, 0]])  # chunks of 2 steps: 0, 0, 2, (2) and 1, 1, 2, 0
    for estimator, expected in (("d1", 1), ("coupled", 2), ("trajectory", 3)):
        canvases, source = scoring_canvases(estimator, completion, torch.Generator().manual_seed(0), steps, 2)
        assert scoring_copies(estimator, steps, 2) == len(canvases) == expected
        assert int(source.max()) < expected
    assert scoring_copies("trajectory", steps, 1) == 6


def test_trajectory_rollouts_refuse_a_generator_that_does_not_report_answer_starts():
    from dllm_core.generation.commit_order import CommitOrder
    from dllm_core.rl.trainer import rollout_commit_steps

    order = CommitOrder()
    order(SimpleNamespace(committed=torch.tensor([[False, True, False]])))
    order(SimpleNamespace(committed=torch.tensor([[False, False, True]])))
    placed = SimpleNamespace(generation=SimpleNamespace(answer_starts=[1], rows=[[7, 8]]), row=0)
    assert rollout_commit_steps(order, [placed], 3, "llada").tolist() == [[0, 1, -1]]
    edits = SimpleNamespace(generation=SimpleNamespace(answer_starts=None, rows=[[7, 8]]), row=0)
    with pytest.raises(DllmError, match="generator 'editflow' does not: use --logp-estimator d1 or coupled"):
        rollout_commit_steps(order, [edits], 3, "editflow")
