"""Conformance suites for noise schedules and edit schedules.

Subclass one per schedule (the subclass name must start with ``Test`` for pytest)::

    from dllm_core.testing.schedules import NoiseScheduleTests
    from my_plugin.schedules import MySchedule

    class TestMySchedule(NoiseScheduleTests):
        schedule_name = "my-schedule"        # the name registered with dllm_register_schedules

        def make_schedule(self):
            return MySchedule(power=3.0)

        def reference_alpha(self, t):      # the formula, written independently in the test
            return 1 - t**3

The checks: the values against the test's own closed form (``reference_alpha`` /
``reference_kappa``, skipped with a notice when a suite gives none), boundary values,
monotonicity, the derivative against central finite differences, the weight and the reveal
probability against their definitions evaluated on the closed form (or, without one, on the
schedule's values), reveal probabilities in [0, 1], python floats and tensors agreeing (and
keeping their kind), a clear ``ValueError`` for t outside [0, 1], the JSON round trip, and that
the registry resolves ``schedule_name`` to the class.
"""

from __future__ import annotations

import math
from typing import Callable, ClassVar

import pytest
import torch

from dllm_core.registry import get_registry
from dllm_core.schedules import EditSchedule, NoiseSchedule, schedule_from_config


#: the step of the central finite differences
STEP = 1e-6


def _grid(points: int = 201, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    return torch.linspace(low, high, points, dtype=torch.float64)  # [points]


def _central_difference(function, t: torch.Tensor) -> torch.Tensor:
    """(f(t + h) - f(t - h)) / 2h, for t at least h inside [0, 1]."""
    return (function(t + STEP) - function(t - STEP)) / (2 * STEP)


class _ScheduleTests:
    """Checks shared by both kinds: config round trip, registry, range errors, float/tensor."""

    schedule_name: ClassVar[str] = ""
    #: absolute tolerance for exact identities evaluated in float64
    atol: ClassVar[float] = 1e-9

    def make_schedule(self) -> NoiseSchedule | EditSchedule:
        raise NotImplementedError("set make_schedule() to return the schedule under test")

    def _value(self, schedule, t):  # alpha or kappa
        raise NotImplementedError

    def _reference(self):  # the suite's closed form of alpha or kappa, or None
        raise NotImplementedError

    def _truth(self, schedule):
        """The closed form when the suite has one, else the schedule's own values."""
        reference = self._reference()
        return reference if reference is not None else (lambda t: self._value(schedule, t))

    def test_values_match_the_closed_form(self) -> None:
        reference = self._reference()
        if reference is None:
            pytest.skip("the suite gives no closed form: define reference_alpha / reference_kappa")
        t = _grid(201)
        torch.testing.assert_close(self._value(self.make_schedule(), t), reference(t), rtol=1e-12, atol=1e-12)

    def test_name_matches(self) -> None:
        assert self.make_schedule().name == self.schedule_name

    def test_registry_resolves_name(self) -> None:
        schedule = self.make_schedule()
        assert get_registry().schedules.get(self.schedule_name) is type(schedule)

    def test_json_round_trip(self) -> None:
        schedule = self.make_schedule()
        config = schedule.to_config()
        assert config["name"] == self.schedule_name
        assert type(schedule).from_json(schedule.to_json()) == schedule
        assert type(schedule).from_config(config) == schedule

    def test_schedule_from_config_uses_registry(self) -> None:
        schedule = self.make_schedule()
        assert schedule_from_config(schedule.to_config()) == schedule
        assert schedule_from_config(schedule.to_json()) == schedule

    def test_from_config_rejects_other_name(self) -> None:
        config = {**self.make_schedule().to_config(), "name": self.schedule_name + "-other"}
        with pytest.raises(ValueError, match="other"):
            type(self.make_schedule()).from_config(config)

    @pytest.mark.parametrize("bad", [-0.25, 1.5, float("nan")])
    def test_out_of_range_float_raises(self, bad: float) -> None:
        with pytest.raises(ValueError, match=r"\[0, 1\]") as info:
            self._value(self.make_schedule(), bad)
        assert str(bad) in str(info.value)

    def test_out_of_range_tensor_raises(self) -> None:
        with pytest.raises(ValueError, match="1.75"):
            self._value(self.make_schedule(), torch.tensor([0.0, 0.5, 1.75]))

    def test_float_and_tensor_agree(self) -> None:
        schedule = self.make_schedule()
        t = _grid(11)
        as_tensor = self._value(schedule, t)
        assert isinstance(as_tensor, torch.Tensor)
        assert as_tensor.shape == t.shape and as_tensor.dtype == t.dtype
        for ti, vi in zip(t.tolist(), as_tensor.tolist()):
            as_float = self._value(schedule, ti)
            assert isinstance(as_float, float)
            assert math.isclose(as_float, vi, rel_tol=1e-12, abs_tol=1e-12)

    def test_float32_tensor_keeps_dtype(self) -> None:
        t = torch.tensor([[0.1, 0.5], [0.7, 0.9]], dtype=torch.float32)
        value = self._value(self.make_schedule(), t)
        assert value.dtype == torch.float32 and value.shape == (2, 2)


class NoiseScheduleTests(_ScheduleTests):
    """The :class:`~dllm_core.schedules.NoiseSchedule` contract."""

    #: alpha(1); the contract says 0. Only a schedule documenting a deviation sets it (MDLM's
    #: loglinear keeps alpha(1) = eps).
    terminal_alpha: ClassVar[float] = 0.0
    #: the suite's own closed form of alpha(t) on a float64 tensor (a method), or None
    reference_alpha: ClassVar[Callable[..., torch.Tensor] | None] = None

    def _value(self, schedule, t):
        return schedule.alpha(t)

    def _reference(self):
        return self.reference_alpha

    def test_boundaries(self) -> None:
        schedule = self.make_schedule()
        assert math.isclose(schedule.alpha(0.0), 1.0, abs_tol=self.atol)
        assert math.isclose(schedule.alpha(1.0), self.terminal_alpha, abs_tol=self.atol)

    def test_alpha_non_increasing_in_unit_range(self) -> None:
        alpha = self.make_schedule().alpha(_grid(1001))
        assert torch.all(alpha[1:] - alpha[:-1] <= self.atol)
        assert torch.all((alpha >= -self.atol) & (alpha <= 1 + self.atol))

    def test_derivative_matches_finite_differences(self) -> None:
        schedule = self.make_schedule()
        t = _grid(99, 0.01, 0.99)
        for values in (lambda x: schedule.alpha(x), self._truth(schedule)):  # its own values, the closed form
            numeric = _central_difference(values, t)
            torch.testing.assert_close(schedule.alpha_derivative(t), numeric, rtol=1e-5, atol=1e-6)
        assert torch.all(schedule.alpha_derivative(t) <= self.atol)

    def test_weight_formula(self) -> None:
        schedule = self.make_schedule()
        alpha, t = self._truth(schedule), _grid(99, 0.01, 0.99)
        expected = -_central_difference(alpha, t) / (1 - alpha(t))  # w = -alpha' / (1 - alpha)
        torch.testing.assert_close(schedule.weight(t), expected, rtol=1e-5, atol=1e-6)
        assert torch.all(schedule.weight(_grid(100, 0.01, 1.0)) >= 0)

    def test_reveal_probability_in_unit_interval(self) -> None:
        schedule = self.make_schedule()
        t = _grid(21, 0.05, 1.0)
        s = t[:, None] * _grid(11)  # [21, 11], s <= t row-wise
        p = schedule.reveal_probability(s, t[:, None])
        assert p.shape == (21, 11)
        assert torch.all((p >= -self.atol) & (p <= 1 + self.atol))

    def test_reveal_probability_endpoints(self) -> None:
        schedule = self.make_schedule()
        t = _grid(10, 0.1, 1.0)
        from_zero = schedule.reveal_probability(torch.zeros_like(t), t)
        torch.testing.assert_close(from_zero, torch.ones_like(t))
        torch.testing.assert_close(schedule.reveal_probability(t, t), torch.zeros_like(t))

    def test_reveal_probability_formula(self) -> None:
        schedule = self.make_schedule()
        alpha = self._truth(schedule)
        s, t = torch.tensor([0.0, 0.3, 0.5], dtype=torch.float64), torch.tensor([0.2, 0.8, 1.0], dtype=torch.float64)
        expected = (alpha(s) - alpha(t)) / (1 - alpha(t))
        torch.testing.assert_close(schedule.reveal_probability(s, t), expected, rtol=1e-12, atol=1e-12)

    def test_reveal_probability_rejects_s_after_t(self) -> None:
        with pytest.raises(ValueError, match="s <= t"):
            self.make_schedule().reveal_probability(0.9, 0.4)


class EditScheduleTests(_ScheduleTests):
    """The :class:`~dllm_core.schedules.EditSchedule` contract."""

    #: the suite's own closed form of kappa(t) on a float64 tensor (a method), or None
    reference_kappa: ClassVar[Callable[..., torch.Tensor] | None] = None

    def _value(self, schedule, t):
        return schedule.kappa(t)

    def _reference(self):
        return self.reference_kappa

    def test_boundaries(self) -> None:
        schedule = self.make_schedule()
        assert math.isclose(schedule.kappa(0.0), 0.0, abs_tol=self.atol)
        assert math.isclose(schedule.kappa(1.0), 1.0, abs_tol=self.atol)

    def test_kappa_non_decreasing_in_unit_range(self) -> None:
        kappa = self.make_schedule().kappa(_grid(1001))
        assert torch.all(kappa[1:] - kappa[:-1] >= -self.atol)
        assert torch.all((kappa >= -self.atol) & (kappa <= 1 + self.atol))

    def test_derivative_matches_finite_differences(self) -> None:
        schedule = self.make_schedule()
        t = _grid(99, 0.01, 0.99)
        for values in (lambda x: schedule.kappa(x), self._truth(schedule)):  # its own values, the closed form
            numeric = _central_difference(values, t)
            torch.testing.assert_close(schedule.kappa_derivative(t), numeric, rtol=1e-5, atol=1e-6)
        assert torch.all(schedule.kappa_derivative(t) >= -self.atol)

    def test_weight_formula(self) -> None:
        schedule = self.make_schedule()
        kappa, t = self._truth(schedule), _grid(99, 0.01, 0.99)
        expected = _central_difference(kappa, t) / (1 - kappa(t))  # w = kappa' / (1 - kappa)
        torch.testing.assert_close(schedule.weight(t), expected, rtol=1e-5, atol=1e-6)
        assert torch.all(schedule.weight(_grid(100, 0.0, 0.99)) >= 0)
