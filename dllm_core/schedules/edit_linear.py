"""Linear edit schedule kappa(t) = t:  kappa'(t) = 1,  w(t) = 1 / (1 - t)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from dllm_core.schedules.edit import EditSchedule


@dataclass(frozen=True)
class EditLinearSchedule(EditSchedule):
    """kappa(t) = t; no parameters."""

    name: ClassVar[str] = "edit-linear"

    def _kappa(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def _kappa_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)
