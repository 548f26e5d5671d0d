"""Transfer schedules: how many masked tokens each step of a block commits.

At the start of a block a schedule sees how many positions of the block are masked in each row
(``masked [B]``) and returns a :class:`BlockPlan`; the loop asks the plan for a
:class:`StepQuota` before every step and tells it how many tokens the step committed.

* :class:`LinearSplit` (LLaDA): ``n`` masks over ``S`` steps, ``n // S`` per step and one more in
  the first ``n % S`` steps.
* :class:`ScheduleRounded` (dllm's MDLM sampler): from a noise schedule alpha, step ``j`` going
  from ``t = (S - j) / S`` to ``s = t - 1 / S`` reveals ``round(n_left * (1 - (1 - alpha(s)) /
  (1 - alpha(t))))`` (round half to even); zero-count steps are dropped.
* :class:`DreamTimeGrid` (Dream): times ``linspace(1, eps, S + 1)``; step ``i`` reveals
  ``int(mean_masked * (1 - s / t))`` (float32, truncated, so a step may reveal none) and the last
  step reveals everything left; the same ``1 - s / t`` is the per-token reveal probability of
  Dream's ``origin`` rule.
* :class:`CarryOverQuota` (Fast-dLLM's Dream threshold sampler): a fixed quota per step, plus
  whatever the commit rule deferred last step; after ``S`` steps only the deferred remain.
* :class:`UntilDone`: no count; the commit rule decides and the block runs until it is full
  (probability threshold, factor rule).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch

from dllm_core.schedules import LinearSchedule, NoiseSchedule


@dataclass(frozen=True)
class StepQuota:
    """The budget of one step.

    Attributes:
        count: ``[B]`` tokens to commit per row, or ``None`` to let the commit rule decide.
        probability: 0-dim float tensor, the chance that each candidate is revealed (``origin``).
    """

    count: torch.Tensor | None = None
    probability: torch.Tensor | None = None


class BlockPlan(ABC):
    """The per-block state of a schedule. ``num_steps`` is ``None`` for "until the block is full"."""

    num_steps: int | None = None

    @abstractmethod
    def quota(self, step: int, remaining: torch.Tensor) -> StepQuota:
        """Budget of ``step`` given the masked positions still in the block (``remaining [B]``)."""

    def observe(self, step: int, committed: torch.Tensor) -> None:
        """Learn how many tokens per row (``committed [B]``) ``step`` actually committed."""


class TransferSchedule(ABC):
    """Makes a :class:`BlockPlan` for each block."""

    @abstractmethod
    def plan(self, masked: torch.Tensor) -> BlockPlan:
        """The plan of a block whose rows hold ``masked [B]`` mask tokens at its start."""


class CountTable(BlockPlan):
    """A plan fixed in advance: ``counts [B, S]`` tokens per row and step."""

    def __init__(self, counts: torch.Tensor):
        self.counts = counts
        self.num_steps = counts.shape[1]

    def quota(self, step: int, remaining: torch.Tensor) -> StepQuota:
        return StepQuota(count=self.counts[:, step])


def linear_split(masked: torch.Tensor, steps: int | torch.Tensor) -> torch.Tensor:
    """``[B, S]``: ``masked // steps`` each, plus one in the first ``masked % steps`` steps.

    ``steps`` is one count or a count per row (``[B]``); then ``S = max(steps)`` and row ``r``'s
    entries from ``steps[r]`` on are not part of its plan.
    """
    base, remainder = masked // steps, masked % steps  # [B]
    width = int(steps.max()) if isinstance(steps, torch.Tensor) else steps
    step_index = torch.arange(width, device=masked.device)  # [S]
    return base[:, None] + (step_index[None, :] < remainder[:, None]).long()


@dataclass(frozen=True)
class LinearSplit(TransferSchedule):
    """LLaDA's schedule: an even split over ``steps`` steps, the remainder to the first ones."""

    steps: int

    def plan(self, masked: torch.Tensor) -> BlockPlan:
        return CountTable(linear_split(masked, self.steps))


@dataclass(frozen=True)
class ScheduleRounded(TransferSchedule):
    """dllm's MDLM counts from a noise schedule; the reveal ratio is computed in float32 and the
    count ``round(n_left * ratio)`` in float64, rounding half to even; rows drop their zero steps
    and are padded with zeros to the longest row, which sets the block's number of steps."""

    steps: int
    schedule: NoiseSchedule = field(default_factory=LinearSchedule)

    def _reveal_ratio(self, step: int) -> float:
        t = torch.tensor((self.steps - step) / self.steps, dtype=torch.float32)
        s = torch.tensor((self.steps - step - 1) / self.steps, dtype=torch.float32)
        still_masked = (1 - self.schedule.alpha(s)) / (1 - self.schedule.alpha(t))  # float32
        return 1 - still_masked.item()

    def plan(self, masked: torch.Tensor) -> BlockPlan:
        left = masked.clone()  # [B]
        columns = []
        for step in range(self.steps):
            wanted = torch.round(left.double() * self._reveal_ratio(step)).long()
            count = torch.minimum(wanted, left)
            columns.append(count)
            left = left - count
        counts = torch.stack(columns, dim=1)  # [B, S]
        # move each row's non-zero counts to the front (stable), then cut the all-zero tail
        order = torch.sort((counts == 0).int(), dim=1, stable=True).indices
        counts = counts.gather(1, order)
        used = int((counts > 0).sum(dim=1).max()) if counts.numel() else 0
        return CountTable(counts[:, :used])


class TimeGridPlan(BlockPlan):
    """Dream's per-step counts and reveal probabilities on ``linspace(1, eps, S + 1)``."""

    def __init__(self, steps: int, eps: float, device: torch.device):
        self.num_steps = steps
        self.grid = torch.linspace(1, eps, steps + 1, device=device)  # float32

    def quota(self, step: int, remaining: torch.Tensor) -> StepQuota:
        if step >= self.num_steps - 1:
            return StepQuota(count=remaining, probability=torch.ones((), device=remaining.device))
        t, s = self.grid[step], self.grid[step + 1]
        reveal = 1 - s / t  # float32
        mean_masked = remaining.sum() / remaining.shape[0]  # float32, as Dream counts it
        count = int(mean_masked * reveal)
        return StepQuota(count=torch.clamp(torch.full_like(remaining, count), max=remaining),
                         probability=reveal)


@dataclass(frozen=True)
class DreamTimeGrid(TransferSchedule):
    """Dream's schedule: ``steps`` steps on ``linspace(1, eps, steps + 1)`` (see module doc)."""

    steps: int
    eps: float = 1e-3

    def plan(self, masked: torch.Tensor) -> BlockPlan:
        return TimeGridPlan(self.steps, self.eps, masked.device)


class CarryPlan(BlockPlan):
    """Quota ``q_i`` (linear split over ``S`` steps, 0 after them) plus last step's deferrals."""

    def __init__(self, quotas: torch.Tensor):
        self.quotas = quotas  # [B, S]
        self.carried = torch.zeros_like(quotas[:, 0])  # [B]
        self.current = self.carried

    def quota(self, step: int, remaining: torch.Tensor) -> StepQuota:
        fresh = self.quotas[:, step] if step < self.quotas.shape[1] else torch.zeros_like(self.carried)
        self.current = fresh + self.carried
        return StepQuota(count=self.current)

    def observe(self, step: int, committed: torch.Tensor) -> None:
        self.carried = self.current - committed


@dataclass(frozen=True)
class CarryOverQuota(TransferSchedule):
    """Fast-dLLM's Dream ``confidence_threshold`` budget: ``masked / steps`` per step, deferred
    tokens added to the next step's quota, and steps continue past ``steps`` until done."""

    steps: int

    def plan(self, masked: torch.Tensor) -> BlockPlan:
        return CarryPlan(linear_split(masked, self.steps))


class OpenPlan(BlockPlan):
    """No count: the commit rule decides and the block runs until it has no mask left."""

    def quota(self, step: int, remaining: torch.Tensor) -> StepQuota:
        return StepQuota()


@dataclass(frozen=True)
class UntilDone(TransferSchedule):
    """No per-step count (probability threshold, factor rule)."""

    def plan(self, masked: torch.Tensor) -> BlockPlan:
        return OpenPlan()
