"""``NoiseSchedule``: the masking schedule alpha(t) of masked (absorbing-state) diffusion.

A clean token x_0 stays unmasked at time t with probability alpha(t) and is replaced by the mask
token otherwise (MDLM, arXiv 2406.07524, eq. 3; LLaDA, arXiv 2502.09992, eq. 1):

    q(x_t = x_0 | x_0) = alpha(t),    q(x_t = [MASK] | x_0) = 1 - alpha(t),    t in [0, 1],

with alpha(0) = 1 (clean), alpha(1) = 0 (all masked) and alpha non-increasing. The continuous-time
negative ELBO weights the masked-token cross-entropy by (MDLM eq. 10)

    w(t) = -alpha'(t) / (1 - alpha(t)),

and the reverse process, going from t down to s < t, reveals each still-masked token with
probability (MDLM eq. 6)

    (alpha(s) - alpha(t)) / (1 - alpha(t)).

Methods accept python numbers (answering floats) and tensors of any shape (answering tensors of
the same dtype/device); see :mod:`dllm_core.schedules.values`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from dllm_core.schedules.config import Schedule
from dllm_core.schedules.values import Time, as_tensors, same_kind


class NoiseSchedule(Schedule, ABC):
    """alpha(t): probability that a token is still clean at time t.

    Subclasses are frozen dataclasses that set ``name`` and implement :meth:`_alpha` and
    :meth:`_alpha_derivative` on tensors already checked to lie in [0, 1].
    """

    @abstractmethod
    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        """alpha(t) elementwise."""

    @abstractmethod
    def _alpha_derivative(self, t: torch.Tensor) -> torch.Tensor:
        """d alpha / dt elementwise."""

    def alpha(self, t: Time) -> Time:
        """alpha(t) for t in [0, 1]."""
        (tt,) = as_tensors(t=t)
        return same_kind(self._alpha(tt), t)

    def alpha_derivative(self, t: Time) -> Time:
        """alpha'(t) for t in [0, 1] (non-positive)."""
        (tt,) = as_tensors(t=t)
        return same_kind(self._alpha_derivative(tt), t)

    def weight(self, t: Time) -> Time:
        """ELBO weight w(t) = -alpha'(t) / (1 - alpha(t)); finite for t in (0, 1].

        At t = 0 the denominator vanishes (inf, or nan when alpha'(0) = 0 too); the objectives
        sample t >= eps.
        """
        (tt,) = as_tensors(t=t)
        return same_kind(-self._alpha_derivative(tt) / (1 - self._alpha(tt)), t)

    def reveal_probability(self, s: Time, t: Time) -> Time:
        """(alpha(s) - alpha(t)) / (1 - alpha(t)): chance a token masked at t is clean at s.

        Needs 0 <= s <= t and t > 0; s and t broadcast against each other.
        """
        ss, tt = as_tensors(s=s, t=t)
        bad = (ss > tt) | (tt <= 0)
        if bool(bad.any()):
            s_bad, t_bad = torch.broadcast_tensors(ss, tt)
            first = bad.flatten().nonzero()[0, 0]
            raise ValueError(
                "reveal_probability needs 0 <= s <= t and t > 0, got "
                f"s={s_bad.flatten()[first].item()}, t={t_bad.flatten()[first].item()}"
            )
        alpha_t = self._alpha(tt)
        return same_kind((self._alpha(ss) - alpha_t) / (1 - alpha_t), s, t)
