"""Token choice (greedy, Gumbel-max, categorical, top-k/top-p) and confidence scores."""

from __future__ import annotations

import math

import torch

from dllm_core.generation.confidence import (
    MarginConfidence,
    NegEntropyConfidence,
    ProbabilityConfidence,
    RandomConfidence,
)
from dllm_core.generation.tokens import (
    CategoricalChooser,
    GumbelChooser,
    TokenChoice,
    top_k_filter,
    top_p_filter,
)
from dllm_core.testing.generation import ConfidenceScoreConformance, TokenChooserConformance


def _gen(seed):
    return torch.Generator().manual_seed(seed)


class TestGreedyConformance(TokenChooserConformance):
    def make_chooser(self):
        return GumbelChooser()


class TestGumbelConformance(TokenChooserConformance):
    def make_chooser(self):
        return GumbelChooser(temperature=1.0, top_k=3, prob_dtype=torch.float64)


class TestCategoricalConformance(TokenChooserConformance):
    def make_chooser(self):
        return CategoricalChooser(temperature=0.7, top_p=0.9)


class TestCategoricalGreedyConformance(TokenChooserConformance):
    def make_chooser(self):
        return CategoricalChooser()


class TestProbabilityConformance(ConfidenceScoreConformance):
    def make_score(self):
        return ProbabilityConfidence()


class TestMarginConformance(ConfidenceScoreConformance):
    def make_score(self):
        return MarginConfidence()


class TestNegEntropyConformance(ConfidenceScoreConformance):
    def make_score(self):
        return NegEntropyConfidence()


class TestRandomConformance(ConfidenceScoreConformance):
    def make_score(self):
        return RandomConfidence()


def test_greedy_is_argmax_with_float32_or_float64_probabilities():
    logits = torch.randn(2, 4, 9, generator=_gen(0))
    choice = GumbelChooser().choose(logits, None)
    assert torch.equal(choice.tokens, logits.argmax(-1)) and choice.probs.dtype == torch.float32
    wide = GumbelChooser(prob_dtype=torch.float64).choose(logits, None)
    assert wide.probs.dtype == torch.float64
    torch.testing.assert_close(wide.probs, torch.softmax(logits.double(), -1))


def test_gumbel_sampling_follows_softmax_over_temperature():
    logits = torch.log(torch.tensor([0.7, 0.3])).expand(1, 4000, 2)
    tokens = GumbelChooser(temperature=1.0).choose(logits, _gen(1)).tokens
    assert abs(float((tokens == 0).float().mean()) - 0.7) < 0.03
    sharp = GumbelChooser(temperature=0.25).choose(logits, _gen(1)).tokens  # p ~ 0.7^4 / (0.7^4 + 0.3^4)
    assert abs(float((sharp == 0).float().mean()) - 0.7**4 / (0.7**4 + 0.3**4)) < 0.03


def test_gumbel_sampling_is_the_reference_formula_on_the_seeded_draws():
    """argmax of exp(logits) / (-log U)^T with U = torch.rand(float64) from the same generator."""
    logits = torch.randn(2, 16, 10, generator=_gen(0))
    for temperature, seed in [(1.0, 3), (0.5, 4)]:
        uniform = torch.rand(logits.shape, dtype=torch.float64, generator=_gen(seed))
        expected = (logits.double().exp() / (-torch.log(uniform)) ** temperature).argmax(dim=-1)
        assert torch.equal(GumbelChooser(temperature=temperature).choose(logits, _gen(seed)).tokens, expected)
    chooser = GumbelChooser(temperature=1.0)
    assert not torch.equal(chooser.choose(logits, _gen(3)).tokens, chooser.choose(logits, _gen(4)).tokens)


def test_confidence_suppression_zeroes_only_the_confidence():
    logits = torch.tensor([[[0.0, 5.0, 1.0]]])
    choice = GumbelChooser(confidence_suppress_tokens=(1,)).choose(logits, None)
    assert choice.tokens.item() == 1
    assert ProbabilityConfidence().score(choice, None).item() == 0.0
    torch.testing.assert_close(choice.probs[0, 0], torch.softmax(torch.tensor([0.0, -math.inf, 1.0]), -1))


def test_top_k_and_top_p_filters():
    logits = torch.tensor([[2.0, 1.0, 0.5, 3.0]])
    low = torch.finfo(torch.float32).min
    assert top_k_filter(logits, 2).tolist() == [[2.0, low, low, 3.0]]
    probs = torch.softmax(logits, -1)  # 0.23, 0.09, 0.05, 0.63
    assert top_p_filter(logits, 0.5).tolist() == [[low, low, low, 3.0]]
    assert top_p_filter(logits, float(probs[0, 3]) + 0.01).tolist() == [[2.0, low, low, 3.0]]


def test_categorical_sampling_respects_filters():
    logits = torch.tensor([[[2.0, 1.0, 0.5, 3.0]]]).expand(1, 500, 4)
    tokens = CategoricalChooser(temperature=1.0, top_k=2).choose(logits, _gen(2)).tokens
    assert set(tokens.unique().tolist()) == {0, 3}
    greedy = CategoricalChooser(temperature=0.0, top_p=0.5).choose(logits, None)
    assert bool((greedy.tokens == 3).all()) and bool((greedy.probs[..., 3] == 1).all())


def test_confidence_scores():
    probs = torch.tensor([[[0.5, 0.3, 0.2]]])
    choice = TokenChoice(tokens=torch.tensor([[1]]), probs=probs)
    assert ProbabilityConfidence().score(choice, None).item() == 0.30000001192092896
    torch.testing.assert_close(MarginConfidence().score(choice, None), torch.tensor([[0.2]]))
    entropy = -(probs * probs.log()).sum()
    torch.testing.assert_close(NegEntropyConfidence().score(choice, None), -entropy.view(1, 1))
    first = RandomConfidence().score(choice, _gen(5))
    assert torch.equal(first, RandomConfidence().score(choice, _gen(5))) and 0 <= first.item() < 1
