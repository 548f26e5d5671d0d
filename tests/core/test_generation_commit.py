"""Commit rules: top-k, sampled positions, threshold, factor, Bernoulli reveal, first masked."""

from __future__ import annotations

import torch

from dllm_core.generation.commit import (
    BernoulliCommit,
    FactorCommit,
    FirstMaskedCommit,
    ThresholdCommit,
    TopKCommit,
    descending_ranks,
)
from dllm_core.generation.transfer import StepQuota
from dllm_core.testing.generation import CommitRuleConformance

INF = float("inf")


def _select(rule, confidence, count=None, probability=None, seed=0):
    confidence = torch.tensor(confidence, dtype=torch.float64)
    candidates = confidence > -INF
    quota = StepQuota(count=None if count is None else torch.tensor(count),
                      probability=None if probability is None else torch.tensor(probability))
    chosen = rule.select(confidence, candidates, quota, torch.Generator().manual_seed(seed))
    return chosen.int().tolist()


class TestTopKConformance(CommitRuleConformance):
    def make_rule(self):
        return TopKCommit()


class TestSampledTopKConformance(CommitRuleConformance):
    def make_rule(self):
        return TopKCommit(position_temperature=0.5)


class TestThresholdConformance(CommitRuleConformance):
    def make_rule(self):
        return ThresholdCommit(0.6)


class TestThresholdUncountedConformance(CommitRuleConformance):
    def make_rule(self):
        return ThresholdCommit(0.6)

    def make_quota(self, candidates):
        return StepQuota()


class TestFactorConformance(CommitRuleConformance):
    respects_count = False  # the factor rule sets its own count

    def make_rule(self):
        return FactorCommit(1.0)


class TestBernoulliConformance(CommitRuleConformance):
    respects_count = False
    always_commits = False

    def make_rule(self):
        return BernoulliCommit()


class TestFirstMaskedConformance(CommitRuleConformance):
    def make_rule(self):
        return FirstMaskedCommit()


def test_ranks_are_stable_and_descending():
    ranks = descending_ranks(torch.tensor([[0.2, 0.9, 0.2, -INF, 0.5]]))
    assert ranks.tolist() == [[2, 0, 3, 4, 1]]


def test_top_k_takes_each_rows_count():
    chosen = _select(TopKCommit(), [[0.1, 0.9, 0.5, -INF], [0.3, -INF, 0.2, 0.8]], count=[2, 1])
    assert chosen == [[0, 1, 1, 0], [0, 0, 0, 1]]


def test_top_k_never_exceeds_the_candidates():
    assert _select(TopKCommit(), [[0.1, -INF, 0.4]], count=[5]) == [[1, 0, 1]]


def test_sampled_positions_follow_the_temperature():
    confidence = [[0.9, 0.1, -INF, 0.5]]
    cold = TopKCommit(position_temperature=1e-4)
    assert all(_select(cold, confidence, count=[2], seed=s) == [[1, 0, 0, 1]] for s in range(5))
    hot = TopKCommit(position_temperature=100.0)
    picks = torch.tensor([_select(hot, confidence, count=[1], seed=s)[0] for s in range(300)])
    assert picks[:, 2].sum() == 0  # never a non-candidate
    assert bool((picks.sum(dim=0)[[0, 1, 3]] > 60).all())  # close to uniform at high temperature


def test_threshold_always_commits_the_best():
    rule = ThresholdCommit(0.5)
    assert _select(rule, [[0.2, 0.4, -INF, 0.1]]) == [[0, 1, 0, 0]]
    assert _select(rule, [[0.6, 0.4, 0.5, 0.9]]) == [[1, 0, 1, 1]]
    assert _select(rule, [[0.6, 0.7, 0.5, 0.9]], count=[2]) == [[0, 1, 0, 1]]


def test_factor_rule_accepts_leading_ranks():
    # floors 1 - f / (r + 1) with f = 1: rank 1 always, 2/3, 3/4, 4/5
    rule = FactorCommit(1.0)
    assert _select(rule, [[0.95, 0.7, 0.2, 0.1]]) == [[1, 1, 0, 0]]
    assert _select(rule, [[0.95, 0.6, 0.9, 0.1]]) == [[1, 0, 1, 0]]
    assert _select(rule, [[0.95, 0.6, 0.5, 0.1]]) == [[1, 0, 0, 0]]
    # only the last candidate fails: the reference commits all of them
    assert _select(rule, [[0.9, 0.8, 0.3, -INF]]) == [[1, 1, 1, 0]]
    assert _select(rule, [[0.1, -INF]]) == [[1, 0]]


def test_bernoulli_draws_one_uniform_per_candidate_in_row_major_order():
    confidence = [[0.0, -INF, 0.0], [0.0, 0.0, -INF]]
    chosen = _select(BernoulliCommit(), confidence, probability=0.5, seed=9)
    draws = torch.rand(4, generator=torch.Generator().manual_seed(9))
    expected = (draws < 0.5).int().tolist()
    assert chosen == [[expected[0], 0, expected[1]], [expected[2], expected[3], 0]]
    assert _select(BernoulliCommit(), confidence, probability=1.0) == [[1, 0, 1], [1, 1, 0]]


def test_first_masked_commits_the_leftmost_candidate():
    assert _select(FirstMaskedCommit(), [[-INF, 0.1, 0.9], [-INF, -INF, -INF]]) == [[0, 1, 0], [0, 0, 0]]
