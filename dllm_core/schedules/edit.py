"""``EditSchedule``: the interpolation schedule kappa(t) of Edit Flows (arXiv 2506.09018).

Edit Flows aligns a source x_0 and a target x_1 into equal-length z_0, z_1 (with blanks) and
builds z_t by taking each column from z_1 with probability kappa(t), else from z_0 (the
mixture path of Discrete Flow Matching, arXiv 2407.15595):

    p_t(z_t^i | z_0, z_1) = (1 - kappa(t)) delta(z_0^i) + kappa(t) delta(z_1^i),

with kappa(0) = 0, kappa(1) = 1 and kappa non-decreasing. A column not yet at its target moves
there at rate kappa'(t) / (1 - kappa(t)), which is also the loss weight:

    w(t) = kappa'(t) / (1 - kappa(t)),    finite for t in [0, 1), unbounded as t -> 1.

Methods accept python numbers (answering floats) and tensors (answering tensors).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from dllm_core.schedules.config import Schedule
from dllm_core.schedules.values import Time, as_tensors, same_kind


class EditSchedule(Schedule, ABC):
    """kappa(t): probability that a column has reached its target at time t.

    Subclasses are frozen dataclasses that set ``name`` and implement :meth:`_kappa` and
    :meth:`_kappa_derivative` on tensors already checked to lie in [0, 1].
    """

    @abstractmethod
    def _kappa(self, t: torch.Tensor) -> torch.Tensor:
        """kappa(t) elementwise."""

    @abstractmethod
    def _kappa_derivative(self, t: torch.Tensor) -> torch.Tensor:
        """d kappa / dt elementwise."""

    def kappa(self, t: Time) -> Time:
        """kappa(t) for t in [0, 1]."""
        (tt,) = as_tensors(t=t)
        return same_kind(self._kappa(tt), t)

    def kappa_derivative(self, t: Time) -> Time:
        """kappa'(t) for t in [0, 1] (non-negative)."""
        (tt,) = as_tensors(t=t)
        return same_kind(self._kappa_derivative(tt), t)

    def weight(self, t: Time) -> Time:
        """Rate/loss weight kappa'(t) / (1 - kappa(t)); finite for t in [0, 1)."""
        (tt,) = as_tensors(t=t)
        return same_kind(self._kappa_derivative(tt) / (1 - self._kappa(tt)), t)
