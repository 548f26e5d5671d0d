"""Cosine edit schedule kappa(t) = 1 - cos(pi t / 2).

    kappa(t) = 1 - cos(pi t / 2),    kappa'(t) = (pi / 2) sin(pi t / 2),
    w(t) = (pi / 2) sin(pi t / 2) / cos(pi t / 2) = (pi / 2) tan(pi t / 2).

kappa grows slowly at first: most edits happen late (the mirror image of the masked cosine
schedule, whose 1 - alpha(t) = sin(pi t / 2) moves early).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from dllm_core.schedules.edit import EditSchedule


@dataclass(frozen=True)
class EditCosineSchedule(EditSchedule):
    """kappa(t) = 1 - cos(pi t / 2); no parameters."""

    name: ClassVar[str] = "edit-cosine"

    def _kappa(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - torch.cos(0.5 * math.pi * t)

    def _kappa_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * math.pi * torch.sin(0.5 * math.pi * t)
