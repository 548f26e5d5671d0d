"""The built-in noise schedules alpha(t) of masked diffusion (contract: :mod:`.base`).

Each is a frozen dataclass whose fields are its parameters; w(t) = -alpha'(t) / (1 - alpha(t)).

* ``linear`` (MDLM, LLaDA), the masking probability equals t:

      alpha(t) = 1 - t,    alpha'(t) = -1,    w(t) = 1 / t.

* ``cosine`` (docs/algorithms.md; MaskGIT-style), alpha(t) = 1 - cos(pi/2 (1 - t)), written as
  1 - sin(pi t / 2), the same function, so that alpha(0) = 1 and alpha(1) = 0 are exact in
  floating point:

      alpha(t) = 1 - sin(pi t / 2),    alpha'(t) = -(pi / 2) cos(pi t / 2),
      w(t) = (pi / 2) cos(pi t / 2) / sin(pi t / 2).

* ``polynomial`` with exponent k > 0 (k = 1 is linear); k > 1 masks little at small t (more
  training signal near clean data), k < 1 masks early:

      alpha(t) = 1 - t^k,    alpha'(t) = -k t^(k-1),    w(t) = k / t.

* ``loglinear``, MDLM's log-linear schedule (arXiv 2406.07524; ``LogLinearNoise`` in
  kuleshov-group/mdlm). MDLM parameterises the forward process by the total noise sigma(t),
  alpha(t) = exp(-sigma(t)):

      sigma(t) = -log(1 - (1 - eps) t),    alpha(t) = 1 - (1 - eps) t,
      alpha'(t) = -(1 - eps),              w(t) = 1 / t,

  so the ELBO weight equals the linear schedule's (MDLM's ``dsigma / expm1(sigma)``). MDLM keeps
  eps > 0 so that sigma(1) = -log(eps) stays finite; as a consequence alpha(1) = eps, not 0 -- at
  t = 1 each token is still clean with probability eps, and the ELBO drops the O(eps) prior term,
  exactly as MDLM does. This schedule reproduces MDLM rather than bending the formula: it is the
  one built-in schedule that deviates from alpha(1) = 0, by eps (the conformance suite is told so
  through its ``terminal_alpha``). ``eps = 0`` satisfies the contract exactly (and then equals
  the linear schedule).
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class CosineSchedule(NoiseSchedule):
    """alpha(t) = 1 - cos(pi/2 (1 - t)); no parameters."""

    name: ClassVar[str] = "cosine"

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - torch.sin(0.5 * math.pi * t)

    def _alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return -0.5 * math.pi * torch.cos(0.5 * math.pi * t)


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
