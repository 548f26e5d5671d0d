"""The Edit Flows kappa(t) schedules: the conformance suite (against closed forms written here)
plus schedule-specific facts."""

from __future__ import annotations

import math

import pytest
import torch

from dllm_core.testing.schedules import EditScheduleTests
from dllm_editflow.schedules import EditCosineSchedule, EditCubicSchedule, EditLinearSchedule

T = torch.linspace(0.05, 1.0, 20, dtype=torch.float64)  # [20]


class TestEditLinearSchedule(EditScheduleTests):
    schedule_name = "edit-linear"

    def make_schedule(self):
        return EditLinearSchedule()

    def reference_kappa(self, t):
        return t


class TestEditCubicSchedule(EditScheduleTests):
    schedule_name = "edit-cubic"

    def make_schedule(self):
        return EditCubicSchedule(a=0.5, b=2.5)

    def reference_kappa(self, t):
        """Cubic Hermite from (0, 0) to (1, 1) with end slopes 0.5 and 2.5, in its basis
        h01 = 3t^2 - 2t^3 (end value), h10 = t (1 - t)^2 (start slope), h11 = t^2 (t - 1) (end slope)."""
        return (3 * t**2 - 2 * t**3) + 0.5 * t * (1 - t) ** 2 + 2.5 * t**2 * (t - 1)


class TestEditCosineSchedule(EditScheduleTests):
    schedule_name = "edit-cosine"

    def make_schedule(self):
        return EditCosineSchedule()

    def reference_kappa(self, t):
        return 1 - torch.cos(math.pi * t / 2)


def test_linear_weight_is_one_over_one_minus_t() -> None:
    t = T[:-1]
    torch.testing.assert_close(EditLinearSchedule().weight(t), 1 / (1 - t))


def test_edit_cubic_end_slopes_are_a_and_b() -> None:
    schedule = EditCubicSchedule(a=0.5, b=2.5)
    assert math.isclose(schedule.kappa_derivative(0.0), 0.5)
    assert math.isclose(schedule.kappa_derivative(1.0), 2.5)


def test_edit_cubic_special_cases() -> None:
    torch.testing.assert_close(EditCubicSchedule(a=1.0, b=1.0).kappa(T), T)
    torch.testing.assert_close(EditCubicSchedule(a=0.0, b=0.0).kappa(T), 3 * T**2 - 2 * T**3)


@pytest.mark.parametrize("a, b", [(-0.1, 1.0), (1.0, -0.5), (4.0, 4.0), (6.0, 0.0)])
def test_edit_cubic_rejects_decreasing_curves(a: float, b: float) -> None:
    t = torch.linspace(0, 1, 2001, dtype=torch.float64)
    slope = -6 * t**2 + 6 * t + a * (3 * t**2 - 4 * t + 1) + b * (3 * t**2 - 2 * t)
    assert slope.min() < 0  # the cases really decrease somewhere
    with pytest.raises(ValueError, match="decreases"):
        EditCubicSchedule(a=a, b=b)


@pytest.mark.parametrize("a, b", [(0.0, 3.0), (3.0, 0.0), (2.0, 2.0), (0.0, 0.0)])
def test_edit_cubic_accepts_monotone_curves(a: float, b: float) -> None:
    kappa = EditCubicSchedule(a=a, b=b).kappa(torch.linspace(0, 1, 2001, dtype=torch.float64))
    assert torch.all(kappa[1:] >= kappa[:-1] - 1e-12)


def test_edit_cosine_matches_its_definition() -> None:
    t = T[:-1]
    torch.testing.assert_close(EditCosineSchedule().weight(t), math.pi / 2 * torch.tan(math.pi / 2 * t))

