"""Built-in noise schedules: the conformance suite (against closed forms written here) plus
schedule-specific facts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from dllm_core.errors import UnknownNameError
from dllm_core.schedules import (
    CosineSchedule,
    LinearSchedule,
    LogLinearSchedule,
    NoiseSchedule,
    PolynomialSchedule,
    schedule_from_config,
)
from dllm_core.testing.schedules import NoiseScheduleTests

T = torch.linspace(0.05, 1.0, 20, dtype=torch.float64)  # [20]


class TestLinearSchedule(NoiseScheduleTests):
    schedule_name = "linear"

    def make_schedule(self):
        return LinearSchedule()

    def reference_alpha(self, t):
        return 1 - t


class TestCosineSchedule(NoiseScheduleTests):
    schedule_name = "cosine"

    def make_schedule(self):
        return CosineSchedule()

    def reference_alpha(self, t):  # docs/algorithms.md's form
        return 1 - torch.cos(math.pi / 2 * (1 - t))


class TestPolynomialSchedule(NoiseScheduleTests):
    schedule_name = "polynomial"

    def make_schedule(self):
        return PolynomialSchedule(exponent=3.0)

    def reference_alpha(self, t):
        return 1 - t * t * t


class TestPolynomialScheduleSubLinear(NoiseScheduleTests):
    schedule_name = "polynomial"

    def make_schedule(self):
        return PolynomialSchedule(exponent=0.5)

    def reference_alpha(self, t):
        return 1 - torch.sqrt(t)


class TestLogLinearSchedule(NoiseScheduleTests):
    schedule_name = "loglinear"
    terminal_alpha = 1e-3  # MDLM's eps: documented deviation from alpha(1) = 0

    def make_schedule(self):
        return LogLinearSchedule()

    def reference_alpha(self, t):  # MDLM: alpha = exp(-sigma), sigma(t) = -log(1 - (1 - eps) t)
        return torch.exp(torch.log1p(-(1 - 1e-3) * t))


def test_linear_weight_is_one_over_t() -> None:
    torch.testing.assert_close(LinearSchedule().weight(T), 1 / T)


def test_cosine_weight_and_derivative_in_closed_form() -> None:
    half_pi = math.pi / 2
    torch.testing.assert_close(CosineSchedule().alpha_derivative(T), -half_pi * torch.sin(half_pi * (1 - T)))
    torch.testing.assert_close(CosineSchedule().weight(T), half_pi / torch.tan(half_pi * T))


def test_reveal_probability_in_closed_form() -> None:
    s, t = torch.tensor([0.1, 0.25, 0.5], dtype=torch.float64), torch.tensor([0.3, 0.75, 1.0], dtype=torch.float64)
    torch.testing.assert_close(LinearSchedule().reveal_probability(s, t), 1 - s / t)  # (t - s) / t
    torch.testing.assert_close(PolynomialSchedule(exponent=2.0).reveal_probability(s, t), 1 - s**2 / t**2)


def test_cosine_matches_its_definition() -> None:
    torch.testing.assert_close(CosineSchedule().alpha(T), 1 - torch.cos(math.pi / 2 * (1 - T)))


def test_polynomial_exponent_one_is_linear_and_weight_is_k_over_t() -> None:
    torch.testing.assert_close(PolynomialSchedule(exponent=1.0).alpha(T), 1 - T)
    torch.testing.assert_close(PolynomialSchedule(exponent=2.5).alpha_derivative(T), -2.5 * T**1.5)
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


@dataclass(frozen=True)
class SlightlyBent(LinearSchedule):
    """alpha and alpha' consistent with each other, both off the linear closed form."""

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - t + 1e-3 * torch.sin(math.pi * t)

    def _alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return -1 + 1e-3 * math.pi * torch.cos(math.pi * t)


@dataclass(frozen=True)
class WrongRevealProbability(LinearSchedule):
    def reveal_probability(self, s, t):
        return super().reveal_probability(s, t) ** 2


@pytest.mark.parametrize(
    "schedule, check",
    [
        (WrongDerivative(), "test_derivative_matches_finite_differences"),
        (WrongDerivative(), "test_weight_formula"),
        (Increasing(), "test_alpha_non_increasing_in_unit_range"),
        (Increasing(), "test_reveal_probability_in_unit_interval"),
        (NotFullyMasked(), "test_boundaries"),
        (NotFullyMasked(), "test_derivative_matches_finite_differences"),
        (NotFullyMasked(), "test_values_match_the_closed_form"),
        (WrongWeight(), "test_weight_formula"),
        (SlightlyBent(), "test_values_match_the_closed_form"),
        (SlightlyBent(), "test_derivative_matches_finite_differences"),
        (SlightlyBent(), "test_reveal_probability_formula"),
        (WrongRevealProbability(), "test_reveal_probability_formula"),
    ],
)
def test_conformance_suite_catches(schedule: NoiseSchedule, check: str) -> None:
    members = {"schedule_name": schedule.name, "make_schedule": lambda self: schedule,
               "reference_alpha": lambda self, t: 1 - t}  # each broken schedule claims to be linear
    suite = type("Broken", (NoiseScheduleTests,), members)
    with pytest.raises(AssertionError):
        getattr(suite(), check)()


def test_a_correct_schedule_passes_the_checks_that_catch_the_broken_ones() -> None:
    suite = type("Linear", (NoiseScheduleTests,), {"schedule_name": "linear", "make_schedule": lambda self: LinearSchedule(),
                                                   "reference_alpha": lambda self, t: 1 - t})()
    for check in ("test_values_match_the_closed_form", "test_derivative_matches_finite_differences",
                  "test_weight_formula", "test_reveal_probability_formula", "test_boundaries"):
        getattr(suite, check)()
