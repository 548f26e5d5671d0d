"""Polynomial schedule alpha(t) = 1 - t^k for an exponent k > 0 (k = 1 is linear).

    alpha(t) = 1 - t^k,    alpha'(t) = -k t^(k-1),    w(t) = k / t.

k > 1 masks little at small t (more training signal near clean data), k < 1 masks early.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from dllm_core.schedules.base import NoiseSchedule


@dataclass(frozen=True)
class PolynomialSchedule(NoiseSchedule):
    """alpha(t) = 1 - t ** exponent."""

    name: ClassVar[str] = "polynomial"

    exponent: float = 2.0  # k > 0; 1.0 reproduces the linear schedule

    def __post_init__(self) -> None:
        if not self.exponent > 0:
            raise ValueError(f"polynomial schedule needs exponent > 0, got {self.exponent}")

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - t**self.exponent

    def _alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return -self.exponent * t ** (self.exponent - 1)
