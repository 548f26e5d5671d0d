"""Linear schedule alpha(t) = 1 - t (MDLM, LLaDA): the masking probability equals t.

    alpha(t) = 1 - t,    alpha'(t) = -1,    w(t) = -alpha'(t) / (1 - alpha(t)) = 1 / t.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from dllm_core.schedules.base import NoiseSchedule


@dataclass(frozen=True)
class LinearSchedule(NoiseSchedule):
    """alpha(t) = 1 - t; no parameters."""

    name: ClassVar[str] = "linear"

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - t

    def _alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return -torch.ones_like(t)
