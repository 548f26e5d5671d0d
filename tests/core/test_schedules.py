"""Built-in noise and edit schedules: the conformance suites plus schedule-specific facts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from dllm_core.errors import UnknownNameError
from dllm_core.schedules import (
    CosineSchedule,
    EditCosineSchedule,
    EditCubicSchedule,
    EditLinearSchedule,
    LinearSchedule,
    LogLinearSchedule,
    NoiseSchedule,
    PolynomialSchedule,
    schedule_from_config,
)
from dllm_core.testing.schedules import EditScheduleTests, NoiseScheduleTests

T = torch.linspace(0.05, 1.0, 20, dtype=torch.float64)  # [20]


class TestLinearSchedule(NoiseScheduleTests):
    schedule_name = "linear"

    def make_schedule(self):
        return LinearSchedule()


class TestCosineSchedule(NoiseScheduleTests):
    schedule_name = "cosine"

    def make_schedule(self):
        return CosineSchedule()


class TestPolynomialSchedule(NoiseScheduleTests):
    schedule_name = "polynomial"

    def make_schedule(self):
        return PolynomialSchedule(exponent=3.0)


class TestPolynomialScheduleSubLinear(NoiseScheduleTests):
    schedule_name = "polynomial"

    def make_schedule(self):
        return PolynomialSchedule(exponent=0.5)


class TestLogLinearSchedule(NoiseScheduleTests):
    schedule_name = "loglinear"
    terminal_alpha = 1e-3  # MDLM's eps: documented deviation from alpha(1) = 0

    def make_schedule(self):
        return LogLinearSchedule()


class TestEditLinearSchedule(EditScheduleTests):
    schedule_name = "edit-linear"

    def make_schedule(self):
        return EditLinearSchedule()


class TestEditCubicSchedule(EditScheduleTests):
    schedule_name = "edit-cubic"

    def make_schedule(self):
        return EditCubicSchedule(a=0.5, b=2.5)


class TestEditCosineSchedule(EditScheduleTests):
    schedule_name = "edit-cosine"

    def make_schedule(self):
        return EditCosineSchedule()


def test_linear_weight_is_one_over_t() -> None:
    torch.testing.assert_close(LinearSchedule().weight(T), 1 / T)


def test_cosine_matches_its_definition() -> None:
    torch.testing.assert_close(CosineSchedule().alpha(T), 1 - torch.cos(math.pi / 2 * (1 - T)))


def test_polynomial_exponent_one_is_linear_and_weight_is_k_over_t() -> None:
    torch.testing.assert_close(PolynomialSchedule(exponent=1.0).alpha(T), LinearSchedule().alpha(T))
    torch.testing.assert_close(PolynomialSchedule(exponent=2.5).weight(T), 2.5 / T)


@pytest.mark.parametrize("exponent", [0.0, -1.0])
def test_polynomial_rejects_non_positive_exponent(exponent: float) -> None:
    with pytest.raises(ValueError, match="exponent > 0"):
        PolynomialSchedule(exponent=exponent)


def test_loglinear_follows_mdlm_total_noise() -> None:
    eps = 1e-3
    schedule = LogLinearSchedule(eps=eps)
    sigma = -torch.log1p(-(1 - eps) * T)  # MDLM total noise
    dsigma = (1 - eps) / (1 - (1 - eps) * T)  # MDLM rate noise
    torch.testing.assert_close(schedule.alpha(T), torch.exp(-sigma))
    torch.testing.assert_close(schedule.weight(T), dsigma / torch.expm1(sigma))
    torch.testing.assert_close(schedule.weight(T), 1 / T)


def test_loglinear_eps_zero_meets_contract_exactly() -> None:
    assert LogLinearSchedule(eps=0.0).alpha(1.0) == 0.0


@pytest.mark.parametrize("eps", [-0.1, 1.0])
def test_loglinear_rejects_bad_eps(eps: float) -> None:
    with pytest.raises(ValueError, match="eps"):
        LogLinearSchedule(eps=eps)


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


def test_reveal_probability_broadcasts_float_against_tensor() -> None:
    p = LinearSchedule().reveal_probability(0.25, torch.tensor([0.5, 1.0]))
    torch.testing.assert_close(p, torch.tensor([0.5, 0.75]))


def test_schedule_from_config_unknown_name_suggests() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'cosine'"):
        schedule_from_config({"name": "cosin"})


def test_from_config_rejects_unknown_parameter() -> None:
    with pytest.raises(ValueError, match="exponnent"):
        PolynomialSchedule.from_config({"name": "polynomial", "exponnent": 2})


# -- the conformance suite itself catches broken schedules ---------------------------------------


@dataclass(frozen=True)
class WrongDerivative(LinearSchedule):
    def _alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return -2 * torch.ones_like(t)


@dataclass(frozen=True)
class Increasing(NoiseSchedule):
    name: ClassVar[str] = "increasing"

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - t + 0.5 * torch.sin(2 * math.pi * t)

    def _alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return -1 + math.pi * torch.cos(2 * math.pi * t)


@dataclass(frozen=True)
class NotFullyMasked(LinearSchedule):
    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - 0.9 * t


@dataclass(frozen=True)
class WrongWeight(LinearSchedule):
    def weight(self, t):
        return 0.5 * super().weight(t)


@pytest.mark.parametrize(
    "schedule, check",
    [
        (WrongDerivative(), "test_derivative_matches_finite_differences"),
        (Increasing(), "test_alpha_non_increasing_in_unit_range"),
        (Increasing(), "test_reveal_probability_in_unit_interval"),
        (NotFullyMasked(), "test_boundaries"),
        (NotFullyMasked(), "test_derivative_matches_finite_differences"),
        (WrongWeight(), "test_weight_formula"),
    ],
)
def test_conformance_suite_catches(schedule: NoiseSchedule, check: str) -> None:
    members = {"schedule_name": schedule.name, "make_schedule": lambda self: schedule}
    suite = type("Broken", (NoiseScheduleTests,), members)
    with pytest.raises(AssertionError):
        getattr(suite(), check)()
