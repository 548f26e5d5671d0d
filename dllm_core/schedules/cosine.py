"""Cosine schedule alpha(t) = 1 - cos(pi/2 * (1 - t)) (ALGORITHMS.md; MaskGIT-style).

Written as 1 - sin(pi/2 * t), the same function, so that the boundaries are exact in floating
point (alpha(0) = 1, alpha(1) = 0):

    alpha(t) = 1 - sin(pi t / 2),    alpha'(t) = -(pi / 2) cos(pi t / 2),
    w(t) = (pi / 2) cos(pi t / 2) / sin(pi t / 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from dllm_core.schedules.base import NoiseSchedule


@dataclass(frozen=True)
class CosineSchedule(NoiseSchedule):
    """alpha(t) = 1 - cos(pi/2 (1 - t)); no parameters."""

    name: ClassVar[str] = "cosine"

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - torch.sin(0.5 * math.pi * t)

    def _alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return -0.5 * math.pi * torch.cos(0.5 * math.pi * t)
