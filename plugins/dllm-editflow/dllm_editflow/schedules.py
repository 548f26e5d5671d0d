"""The Edit Flows kappa(t) schedules (contract: ``EditSchedule`` of dllm-core; arXiv 2506.09018).

Each is a frozen dataclass whose fields are its parameters; kappa(0) = 0, kappa(1) = 1, kappa
non-decreasing, and the rate/loss weight is w(t) = kappa'(t) / (1 - kappa(t)).

* ``edit-linear``:

      kappa(t) = t,    kappa'(t) = 1,    w(t) = 1 / (1 - t).

* ``edit-cubic``, the paper's cubic: the cubic Hermite curve from kappa(0) = 0 to kappa(1) = 1
  with end slopes kappa'(0) = a and kappa'(1) = b:

      kappa(t)  = -2t^3 + 3t^2 + a (t^3 - 2t^2 + t) + b (t^3 - t^2),
      kappa'(t) = -6t^2 + 6t   + a (3t^2 - 4t + 1)  + b (3t^2 - 2t)
                = (3a + 3b - 6) t^2 + (6 - 4a - 2b) t + a.

  a = b = 1 gives kappa(t) = t; a = b = 0 the smoothstep 3t^2 - 2t^3. The curve is a valid
  schedule only when it never decreases, i.e. kappa'(t) >= 0 on [0, 1]; the constructor checks
  that exactly (a, b >= 0 and a non-negative interior minimum of the quadratic kappa').

* ``edit-cosine``:

      kappa(t) = 1 - cos(pi t / 2),    kappa'(t) = (pi / 2) sin(pi t / 2),
      w(t) = (pi / 2) tan(pi t / 2).

  kappa grows slowly at first: most edits happen late (the mirror image of the masked cosine
  schedule, whose 1 - alpha(t) = sin(pi t / 2) moves early).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from dllm_core.api import EditSchedule


@dataclass(frozen=True)
class EditLinearSchedule(EditSchedule):
    """kappa(t) = t; no parameters."""

    name: ClassVar[str] = "edit-linear"

    def _kappa(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def _kappa_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)


def _slope_quadratic(a: float, b: float) -> tuple[float, float, float]:
    """Coefficients (c2, c1, c0) of the cubic's kappa'(t) = c2 t^2 + c1 t + c0."""
    return 3 * a + 3 * b - 6, 6 - 4 * a - 2 * b, a


def _cubic_is_monotone(a: float, b: float) -> bool:
    """Whether the cubic's kappa'(t) >= 0 for every t in [0, 1]."""
    c2, c1, c0 = _slope_quadratic(a, b)
    if a < 0 or b < 0:  # kappa'(0) = a, kappa'(1) = b
        return False
    if c2 <= 0:  # concave or linear slope: its minimum on [0, 1] is at an end
        return True
    vertex = -c1 / (2 * c2)
    return not 0 < vertex < 1 or c0 - c1 * c1 / (4 * c2) >= 0


@dataclass(frozen=True)
class EditCubicSchedule(EditSchedule):
    """Cubic Hermite kappa(t) with end slopes ``a`` = kappa'(0) and ``b`` = kappa'(1)."""

    name: ClassVar[str] = "edit-cubic"

    a: float = 1.0  # kappa'(0)
    b: float = 1.0  # kappa'(1); a = b = 1 is kappa(t) = t

    def __post_init__(self) -> None:
        if not _cubic_is_monotone(self.a, self.b):
            raise ValueError(
                f"edit-cubic with a={self.a}, b={self.b} decreases somewhere on [0, 1]; "
                "kappa'(t) must stay >= 0 (e.g. 0 <= a, b with a**2 + b**2 <= 9)"
            )

    def _kappa(self, t: torch.Tensor) -> torch.Tensor:
        t2, t3 = t * t, t * t * t
        return -2 * t3 + 3 * t2 + self.a * (t3 - 2 * t2 + t) + self.b * (t3 - t2)

    def _kappa_derivative(self, t: torch.Tensor) -> torch.Tensor:
        c2, c1, c0 = _slope_quadratic(self.a, self.b)
        return (c2 * t + c1) * t + c0


@dataclass(frozen=True)
class EditCosineSchedule(EditSchedule):
    """kappa(t) = 1 - cos(pi t / 2); no parameters."""

    name: ClassVar[str] = "edit-cosine"

    def _kappa(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - torch.cos(0.5 * math.pi * t)

    def _kappa_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * math.pi * torch.sin(0.5 * math.pi * t)
