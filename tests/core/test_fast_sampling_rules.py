"""Fast sampling without the accuracy loss: the entropy-bound commit rule (EB-sampler) and the
cache refresh policy of the ``fastdllm`` generator, on hand-made confidences and the toy model."""

from __future__ import annotations

import math

import pytest
import torch

from dllm_core.generation import FASTDLLM, generate
from dllm_core.generation.commit import EntropyBoundCommit
from dllm_core.generation.config import GenerationConfig
from dllm_core.generation.transfer import StepQuota, UntilDone
from dllm_core.testing.generation import CommitRuleConformance, ToyConfig, ToyDiffusionLM

INF = float("inf")
PROMPTS = torch.tensor([[3, 14, 15, 9, 2, 6], [37, 37, 37, 5, 3, 5]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]])
CAPABLE = dict(supports_kv_cache=True, supports_logits_to_keep=True)


class TestEntropyBoundConformance(CommitRuleConformance):
    respects_count = False  # the bound sets the count

    def make_rule(self):
        return EntropyBoundCommit(0.5)


def _commit(bound, entropies):
    """Positions the rule commits for rows of entropies (``None``: not a candidate)."""
    confidence = torch.tensor([[-INF if h is None else -h for h in row] for row in entropies], dtype=torch.float64)
    return EntropyBoundCommit(bound).select(confidence, confidence > -INF, StepQuota(), None).int().tolist()


def test_entropy_bound_commits_the_surest_prefix_whose_entropy_beside_the_largest_fits():
    # sorted entropies 0.01, 0.05, 0.1, 0.3, 0.6: prefixes pass while the entropy before the last <= bound
    row = [0.3, 0.01, 0.6, 0.1, 0.05]
    assert _commit(0.0, [row]) == [[0, 1, 0, 0, 0]]  # only the surest: nothing sits beside it
    assert _commit(0.065, [row]) == [[0, 1, 0, 1, 1]]  # 0.01 + 0.05 <= 0.065 admits the 0.1 one
    assert _commit(0.17, [row]) == [[1, 1, 0, 1, 1]]  # 0.16 <= 0.17 admits the 0.3 one, 0.46 would be needed for 0.6
    assert _commit(10.0, [row]) == [[1, 1, 1, 1, 1]]


def test_entropy_bound_counts_only_each_rows_candidates():
    rows = [[2.0, None, 3.0, None], [None, 0.0, 0.0, 0.2], [None, None, None, None]]
    assert _commit(0.1, rows) == [[1, 0, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0]]


def test_the_fastdllm_entropy_bound_pairs_the_rule_with_entropy_confidences():
    model = ToyDiffusionLM()
    strict = generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK, steps=8, gen_length=8,
                      block_length=8, entropy_bound=0.0)
    loose = generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK, steps=8, gen_length=8,
                     block_length=8, entropy_bound=1e6)
    assert strict.nfe == 8 and loose.nfe == 1  # one token a step, or every token in one
    for out in (strict, loose):
        assert not bool((out.sequences == model.config.mask_token_id).any())


def _query_lengths(model, run):
    lengths = []
    hook = model.register_forward_hook(lambda m, args, out: lengths.append(args[0].shape[1]))
    try:
        return run(), lengths
    finally:
        hook.remove()


def test_a_refresh_every_step_gives_the_uncached_tokens_of_a_deep_model():
    model = ToyDiffusionLM(ToyConfig(num_layers=2))  # two layers: a stale cache changes the logits
    params = dict(steps=8, gen_length=16, block_length=8, threshold=0.3, **CAPABLE)
    plain = generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK, **params)
    fresh, lengths = _query_lengths(model, lambda: generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK,
                                                            use_cache="dual", cache_refresh=1, **params))
    assert torch.equal(fresh.sequences, plain.sequences) and fresh.nfe == plain.nfe
    assert set(lengths) == {PROMPTS.shape[1] + 16}


@pytest.mark.parametrize("use_cache", ["prefix", "dual"])
def test_a_refresh_every_other_step_records_the_whole_canvas_on_even_steps(use_cache):
    model = ToyDiffusionLM(ToyConfig(num_layers=2))
    full = PROMPTS.shape[1] + 8
    out, lengths = _query_lengths(model, lambda: generate(
        model, PROMPTS, preset=FASTDLLM, attention_mask=MASK, steps=8, gen_length=8, block_length=8,
        use_cache=use_cache, cache_refresh=2, **CAPABLE))
    assert out.nfe == 8 and not bool((out.sequences == model.config.mask_token_id).any())
    assert [length == full for length in lengths] == [step % 2 == 0 for step in range(8)]


@pytest.mark.parametrize("params, message", [
    ({"cache_refresh": -1}, "cache_refresh must be 0 or more"),
    ({"entropy_bound": -0.5}, "entropy_bound must be 0 or more"),
    ({"entropy_bound": math.nan}, "entropy_bound must be 0 or more"),
])
def test_bad_fast_sampling_values_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        FASTDLLM.params_class(**params)


def test_the_loop_refuses_a_negative_refresh():
    with pytest.raises(ValueError, match="cache_refresh must be >= 0"):
        GenerationConfig(mask_token_id=0, transfer=UntilDone(), cache_refresh=-1)
