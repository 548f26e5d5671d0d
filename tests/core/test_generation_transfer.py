"""Transfer schedules: the per-step counts of LLaDA, dllm's MDLM sampler, Dream and Fast-dLLM."""

from __future__ import annotations

import torch

from dllm_core.generation.transfer import (
    CarryOverQuota,
    DreamTimeGrid,
    LinearSplit,
    ScheduleRounded,
    UntilDone,
    linear_split,
)
from dllm_core.schedules import CosineSchedule
from dllm_core.testing.generation import TransferScheduleConformance


def _run_plan(schedule, masked, commit=None):
    """Counts per step when each step commits ``commit(count)`` (default: the count)."""
    remaining = torch.tensor(masked)
    plan = schedule.plan(remaining.clone())
    counts, step = [], 0
    while bool(remaining.any()) and (plan.num_steps is None or step < plan.num_steps):
        count = plan.quota(step, remaining.clone()).count
        committed = commit(step, count) if commit else count
        counts.append(count.tolist())
        plan.observe(step, committed)
        remaining = remaining - committed
        step += 1
    return counts, remaining


class TestLinearSplitConformance(TransferScheduleConformance):
    def make_schedule(self):
        return LinearSplit(steps=4)


class TestScheduleRoundedConformance(TransferScheduleConformance):
    def make_schedule(self):
        return ScheduleRounded(steps=5)


class TestScheduleRoundedCosineConformance(TransferScheduleConformance):
    def make_schedule(self):
        return ScheduleRounded(steps=6, schedule=CosineSchedule())


class TestDreamTimeGridConformance(TransferScheduleConformance):
    def make_schedule(self):
        return DreamTimeGrid(steps=6)


class TestCarryOverQuotaConformance(TransferScheduleConformance):
    def make_schedule(self):
        return CarryOverQuota(steps=4)


class TestUntilDoneConformance(TransferScheduleConformance):
    def make_schedule(self):
        return UntilDone()


def test_linear_split_gives_the_remainder_to_the_first_steps():
    counts = linear_split(torch.tensor([10, 3, 0]), 4)
    assert counts.tolist() == [[3, 3, 2, 2], [1, 1, 1, 0], [0, 0, 0, 0]]
    assert LinearSplit(4).plan(torch.tensor([10])).num_steps == 4


def test_schedule_rounded_matches_mdlm_sampler_counts():
    # golden bert cases: 8 masks in 3 steps; 20 masks in 12 steps (round half to even)
    assert _run_plan(ScheduleRounded(3), [8])[0] == [[3], [2], [3]]
    counts, _ = _run_plan(ScheduleRounded(12), [20])
    assert [c[0] for c in counts] == [2, 2, 2, 2, 2, 1, 2, 1, 2, 1, 2, 1]


def test_schedule_rounded_drops_zero_steps_per_row():
    plan = ScheduleRounded(3).plan(torch.tensor([8, 2]))
    # row 1 would be [1, 0, 1] (2 * 1/2 rounds half to even): its zero step moves to the end
    assert plan.counts.tolist() == [[3, 2, 3], [1, 1, 0]]
    few = ScheduleRounded(8).plan(torch.tensor([3]))
    assert few.num_steps == 3 and few.counts.tolist() == [[1, 1, 1]]


def test_dream_time_grid_truncates_in_float32():
    # golden dream maskgit_plus_1tok: 16 masks, 16 steps -> the first step reveals nothing
    counts, remaining = _run_plan(DreamTimeGrid(16), [16])
    assert [c[0] for c in counts] == [0] + [1] * 14 + [2]
    assert not bool(remaining.any())
    # entropy_uneven: 20 masks in 6 steps
    assert [c[0] for c in _run_plan(DreamTimeGrid(6), [20])[0]] == [3, 3, 3, 3, 3, 5]


def test_dream_time_grid_reveal_probability():
    plan = DreamTimeGrid(4, eps=1e-3).plan(torch.tensor([8]))
    grid = torch.linspace(1, 1e-3, 5)
    assert torch.equal(plan.quota(1, torch.tensor([8])).probability, 1 - grid[2] / grid[1])
    assert float(plan.quota(3, torch.tensor([8])).probability) == 1.0


def test_dream_time_grid_uses_the_batch_mean_capped_per_row():
    quota = DreamTimeGrid(2).plan(torch.tensor([10, 2])).quota(0, torch.tensor([10, 2]))
    assert quota.count.tolist() == [2, 2]  # int(6 * (1 - s/t)) = 2 for both rows
    last = DreamTimeGrid(2).plan(torch.tensor([10, 2])).quota(1, torch.tensor([7, 1]))
    assert last.count.tolist() == [7, 1]


def test_carry_over_quota_defers_rejected_tokens():
    # golden dream fd_confidence_threshold_nocache: 24 masks, 6 steps, commits per call below
    committed = [4, 3, 5, 3, 2, 2, 1, 1, 1, 1, 1]
    counts, remaining = _run_plan(CarryOverQuota(6), [24],
                                  commit=lambda step, count: torch.tensor([committed[step]]))
    assert [c[0] for c in counts] == [4, 4, 5, 4, 5, 7, 5, 4, 3, 2, 1]
    assert not bool(remaining.any())


def test_until_done_has_no_count():
    plan = UntilDone().plan(torch.tensor([5]))
    assert plan.num_steps is None and plan.quota(0, torch.tensor([5])).count is None
