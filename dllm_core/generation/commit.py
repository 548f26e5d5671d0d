"""Commit rules: which candidate positions a step fills with their chosen tokens.

A rule sees ``confidence [B, W]`` (``-inf`` off the candidates), the ``candidates [B, W]`` (still
masked positions of the current block) and the step's :class:`StepQuota`, and returns the
positions to commit ``[B, W]``. All rules work on whole batches (no loop over rows); ranks are
taken with a stable descending sort, so equal confidences go left to right.

* :class:`TopKCommit`: the ``count`` most confident candidates per row (LLaDA, MDLM, Dream);
  with ``position_temperature > 0`` the ``count`` positions are instead drawn without
  replacement with probability ``softmax(confidence / position_temperature)`` (Dream's
  ``alg_temp``): ``torch.multinomial`` over the step's draw frame ``[B, n]``, as Dream does over
  its whole canvas.
* :class:`ThresholdCommit` (Fast-dLLM): the most confident candidate always, the others of the
  top ``count`` (all candidates when ``count`` is ``None``) when ``confidence >= threshold``.
* :class:`FactorCommit` (Fast-dLLM): sorted by confidence, rank ``r`` (1-based) is accepted while
  ``confidence >= 1 - factor / (r + 1)``; rank 1 always.
* :class:`EntropyBoundCommit` (EB-sampler, Ben-Hamu et al. 2025, arXiv 2505.24857): reads the
  confidence as a negative entropy (pair it with ``NegEntropyConfidence``); sorted by entropy
  ``H`` ascending, the largest prefix ``U`` with ``sum_{U} H - max_{U} H <= bound`` (rank 1
  always). The sum of the entropies bounds what committing ``U`` together loses against
  committing it one token at a time, so ``bound`` caps the error of each parallel step
  however many tokens it commits, where a probability threshold caps each token's alone.
* :class:`BernoulliCommit` (Dream ``origin``): every candidate independently with the step's
  reveal probability.
* :class:`FirstMaskedCommit` (Fast-dLLM's block-cached Dream): the first candidate of each row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch

from dllm_core.generation.draws import DrawFrame
from dllm_core.generation.transfer import StepQuota


class CommitRule(ABC):
    """Chooses the positions a step commits.

    ``reads_confidence = False`` marks a rule that ignores the confidences (it is given zeros):
    the loop then selects first and draws tokens only for the selected positions, as Dream's
    ``origin`` does.
    """

    reads_confidence: ClassVar[bool] = True

    @abstractmethod
    def select(
        self,
        confidence: torch.Tensor,
        candidates: torch.Tensor,
        quota: StepQuota,
        generator: torch.Generator | None,
        frame: DrawFrame | None = None,
    ) -> torch.Tensor:
        """``[B, W]`` bool: the positions to commit (a subset of ``candidates``); random draws
        use ``generator`` laid out as ``frame`` says (``None``: over the window)."""


def descending_ranks(scores: torch.Tensor) -> torch.Tensor:
    """``[B, W]`` rank of each entry in its row, 0 = largest (stable: ties left to right)."""
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    positions = torch.arange(scores.shape[-1], device=scores.device).expand_as(order)
    return ranks.scatter_(-1, order, positions)


def _count(quota: StepQuota, rule: str) -> torch.Tensor:
    if quota.count is None:
        raise ValueError(f"the {rule} commit rule needs a per-step count; pair it with a counting "
                         "transfer schedule (LinearSplit, ScheduleRounded, DreamTimeGrid, ...)")
    return quota.count


@dataclass(frozen=True)
class TopKCommit(CommitRule):
    """The ``count`` best candidates (or ``count`` sampled ones, see module doc)."""

    position_temperature: float = 0.0

    def select(self, confidence, candidates, quota, generator, frame=None):
        count = _count(quota, "top-k")  # [B]
        if self.position_temperature > 0:
            return candidates & self._drawn(confidence.masked_fill(~candidates, -torch.inf), count,
                                            generator, frame)
        return candidates & (descending_ranks(confidence) < count[:, None])

    def _drawn(self, confidence: torch.Tensor, count: torch.Tensor, generator: torch.Generator | None,
               frame: DrawFrame | None) -> torch.Tensor:
        """``[B, W]``: ``count`` positions per row drawn without replacement from
        ``softmax(confidence / position_temperature)`` over the frame (one ``torch.multinomial``
        call when every row draws the same number, as Dream's scalar count does)."""
        scores = confidence if frame is None else frame.embed(confidence, -torch.inf)  # [B, n]
        probs = torch.softmax(scores / self.position_temperature, dim=-1).nan_to_num(0.0)  # rows without candidates: 0
        drawn = torch.zeros_like(probs, dtype=torch.bool)
        counts = torch.minimum(count, (probs > 0).sum(dim=-1)).tolist()  # never more than drawable
        if len(set(counts)) == 1:
            if counts[0] > 0:
                drawn.scatter_(-1, torch.multinomial(probs, counts[0], generator=generator), True)
        else:
            for row, k in enumerate(counts):
                if k > 0:
                    drawn[row, torch.multinomial(probs[row], k, generator=generator)] = True
        # positions whose probability underflowed to 0 (a very low temperature) go by rank
        short = count - drawn.sum(dim=-1)  # [B]
        if bool((short > 0).any()):
            rest = scores.masked_fill(drawn, -torch.inf)
            drawn |= (descending_ranks(rest) < short[:, None]) & torch.isfinite(rest)
        return drawn if frame is None else frame.cut(drawn)


@dataclass(frozen=True)
class ThresholdCommit(CommitRule):
    """Best candidate always; others of the top ``count`` when ``confidence >= threshold``."""

    threshold: float

    def select(self, confidence, candidates, quota, generator, frame=None):
        ranks = descending_ranks(confidence)  # [B, W]
        accepted = (ranks == 0) | (confidence >= self.threshold)
        if quota.count is not None:
            accepted &= ranks < quota.count[:, None]
        return candidates & accepted


@dataclass(frozen=True)
class FactorCommit(CommitRule):
    """Fast-dLLM's factor rule.

    With ``n`` candidates, let ``a`` be the number of leading ranks that pass; ``a`` tokens are
    committed, except that ``a = n - 1`` (only the last candidate fails) commits all ``n``, as
    the reference does.
    """

    factor: float

    def select(self, confidence, candidates, quota, generator, frame=None):
        sorted_conf = torch.sort(confidence.double(), dim=-1, descending=True).values  # [B, W]
        rank1 = torch.arange(1, confidence.shape[-1] + 1, dtype=torch.float64,
                             device=confidence.device)  # 1-based ranks
        floor = 1 - self.factor / (rank1 + 1)
        floor[0] = -1.0  # rank 1 always passes
        accepted = torch.cumprod((sorted_conf >= floor).long(), dim=-1).sum(dim=-1)  # [B]
        n = candidates.sum(dim=-1)
        accepted = torch.where(accepted == n - 1, n, accepted)
        return candidates & (descending_ranks(confidence) < accepted[:, None])


@dataclass(frozen=True)
class EntropyBoundCommit(CommitRule):
    """The EB-sampler's rule on ``confidence = -entropy`` (see the module doc).

    With the candidates sorted by entropy ascending, ``H_(1) <= H_(2) <= ...``, the largest of
    the prefix is its last, so rank ``k`` (1-based) passes when ``sum_{r < k} H_(r) <= bound``.
    """

    bound: float

    def select(self, confidence, candidates, quota, generator, frame=None):
        entropy = (-confidence.double()).clamp(min=0.0)  # [B, W], +inf off the candidates
        ascending = torch.sort(entropy, dim=-1).values
        before = torch.cumsum(ascending, dim=-1) - ascending  # [B, W] entropy of the better ranks
        accepted = (before <= self.bound).sum(dim=-1).clamp(min=1)  # [B] rank 1 always
        return candidates & (descending_ranks(confidence) < accepted[:, None])


@dataclass(frozen=True)
class BernoulliCommit(CommitRule):
    """Each candidate with the step's reveal probability.

    One uniform draw per candidate, in row-major order (Dream draws ``torch.rand(n)`` over its
    masked positions in that order, so a seeded run reproduces the reference).
    """

    reads_confidence: ClassVar[bool] = False

    def select(self, confidence, candidates, quota, generator, frame=None):
        if quota.probability is None:
            raise ValueError("the Bernoulli commit rule needs a reveal probability; pair it with "
                             "the DreamTimeGrid transfer schedule")
        draws = torch.full(candidates.shape, 2.0, device=candidates.device)
        draws[candidates] = torch.rand(int(candidates.sum()), device=candidates.device,
                                       generator=generator)
        return candidates & (draws < quota.probability)


@dataclass(frozen=True)
class FirstMaskedCommit(CommitRule):
    """The leftmost candidate of each row."""

    def select(self, confidence, candidates, quota, generator, frame=None):
        first = candidates.int().argmax(dim=-1)  # [B]
        chosen = torch.zeros_like(candidates).scatter_(-1, first[:, None], True)
        return candidates & chosen
