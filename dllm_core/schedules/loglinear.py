"""MDLM's log-linear schedule (arXiv 2406.07524; ``LogLinearNoise`` in kuleshov-group/mdlm).

MDLM parameterises the forward process by the total noise sigma(t), alpha(t) = exp(-sigma(t)):

    sigma(t) = -log(1 - (1 - eps) t),    alpha(t) = 1 - (1 - eps) t,
    alpha'(t) = -(1 - eps),              w(t) = -alpha'(t) / (1 - alpha(t)) = 1 / t,

so the ELBO weight equals the linear schedule's (MDLM's ``dsigma / expm1(sigma)``).

The eps and the alpha(1) = 0 contract: MDLM keeps eps > 0 so that sigma(1) = -log(eps) stays
finite; as a consequence alpha(1) = eps, not 0 -- at t = 1 each token is still clean with
probability eps, and the ELBO drops the O(eps) prior term, exactly as MDLM does. This schedule
reproduces MDLM rather than bending the formula: it is the one built-in schedule that deviates
from alpha(1) = 0, by eps (the conformance suite is told so through its ``terminal_alpha``).
``eps = 0`` satisfies the contract exactly (and then equals the linear schedule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from dllm_core.schedules.base import NoiseSchedule


@dataclass(frozen=True)
class LogLinearSchedule(NoiseSchedule):
    """alpha(t) = 1 - (1 - eps) t, i.e. exp(-sigma(t)) with MDLM's log-linear sigma."""

    name: ClassVar[str] = "loglinear"

    eps: float = 1e-3  # MDLM's default; alpha(1) = eps keeps sigma(1) finite

    def __post_init__(self) -> None:
        if not 0 <= self.eps < 1:
            raise ValueError(f"loglinear schedule needs 0 <= eps < 1, got {self.eps}")

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - (1 - self.eps) * t

    def _alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return torch.full_like(t, -(1 - self.eps))
