"""The two schedule contracts: ``NoiseSchedule`` alpha(t) and ``EditSchedule`` kappa(t).

**Masked (absorbing-state) diffusion.** A clean token x_0 stays unmasked at time t with
probability alpha(t) and is replaced by the mask token otherwise (MDLM, arXiv 2406.07524, eq. 3;
LLaDA, arXiv 2502.09992, eq. 1):

    q(x_t = x_0 | x_0) = alpha(t),    q(x_t = [MASK] | x_0) = 1 - alpha(t),    t in [0, 1],

with alpha(0) = 1 (clean), alpha(1) = 0 (all masked) and alpha non-increasing. The continuous-time
negative ELBO weights the masked-token cross-entropy by (MDLM eq. 10)

    w(t) = -alpha'(t) / (1 - alpha(t)),

and the reverse process, going from t down to s < t, reveals each still-masked token with
probability (MDLM eq. 6)

    (alpha(s) - alpha(t)) / (1 - alpha(t)).

**Edit Flows** (arXiv 2506.09018) aligns a source x_0 and a target x_1 into equal-length z_0, z_1
(with blanks) and builds z_t by taking each column from z_1 with probability kappa(t), else from
z_0 (the mixture path of Discrete Flow Matching, arXiv 2407.15595):

    p_t(z_t^i | z_0, z_1) = (1 - kappa(t)) delta(z_0^i) + kappa(t) delta(z_1^i),

with kappa(0) = 0, kappa(1) = 1 and kappa non-decreasing. A column not yet at its target moves
there at rate kappa'(t) / (1 - kappa(t)), which is also the loss weight:

    w(t) = kappa'(t) / (1 - kappa(t)),    finite for t in [0, 1), unbounded as t -> 1.

**Time arguments.** Every method takes ``t`` (and ``s``) as a python number or as a tensor of any
shape, each checked to lie in [0, 1] (a ``ValueError`` names the argument and the first value
outside), and answers the same kind: a python ``float`` for numbers (computed in float64), a
tensor of the input's dtype and device for tensors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from numbers import Real
from typing import Union

import torch

from dllm_core.schedules.config import Schedule

Time = Union[float, torch.Tensor]


def _is_number(value: object) -> bool:
    """``True`` for python/numpy real numbers (not bools, not tensors)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def _as_tensors(**values: Time) -> list[torch.Tensor]:
    """Convert named time values to tensors of one floating dtype and device, checked in [0, 1].

    Numbers take the dtype and device of the first tensor among ``values`` (float64 on the CPU
    when all are numbers); integer tensors become the default float dtype.
    """
    template = next((v for v in values.values() if isinstance(v, torch.Tensor)), None)
    if template is None:
        dtype, device = torch.float64, torch.device("cpu")
    else:
        dtype = template.dtype if template.is_floating_point() else torch.get_default_dtype()
        device = template.device
    tensors = []
    for name, value in values.items():
        if isinstance(value, torch.Tensor):
            tensor = value if value.is_floating_point() else value.to(dtype)
        elif _is_number(value):
            tensor = torch.tensor(float(value), dtype=dtype, device=device)
        else:
            raise TypeError(f"{name} must be a number or a torch.Tensor, got {type(value).__name__}")
        outside = ~((tensor >= 0) & (tensor <= 1))  # NaN included
        if bool(outside.any()):
            first = tensor[outside].flatten()[0].item()
            raise ValueError(f"{name} must lie in [0, 1], got {name}={first}")
        tensors.append(tensor)
    return tensors


def _same_kind(result: torch.Tensor, *inputs: Time) -> Time:
    """``result`` as a python float when every input was a number, else as a tensor."""
    if all(_is_number(value) for value in inputs):
        return float(result)
    return result


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
        (tt,) = _as_tensors(t=t)
        return _same_kind(self._alpha(tt), t)

    def alpha_derivative(self, t: Time) -> Time:
        """alpha'(t) for t in [0, 1] (non-positive)."""
        (tt,) = _as_tensors(t=t)
        return _same_kind(self._alpha_derivative(tt), t)

    def weight(self, t: Time) -> Time:
        """ELBO weight w(t) = -alpha'(t) / (1 - alpha(t)); finite for t in (0, 1].

        At t = 0 the denominator vanishes (inf, or nan when alpha'(0) = 0 too); the objectives
        sample t >= eps.
        """
        (tt,) = _as_tensors(t=t)
        return _same_kind(-self._alpha_derivative(tt) / (1 - self._alpha(tt)), t)

    def reveal_probability(self, s: Time, t: Time) -> Time:
        """(alpha(s) - alpha(t)) / (1 - alpha(t)): chance a token masked at t is clean at s.

        Needs 0 <= s <= t and t > 0; s and t broadcast against each other.
        """
        ss, tt = _as_tensors(s=s, t=t)
        bad = (ss > tt) | (tt <= 0)
        if bool(bad.any()):
            s_bad, t_bad = torch.broadcast_tensors(ss, tt)
            first = bad.flatten().nonzero()[0, 0]
            raise ValueError(
                "reveal_probability needs 0 <= s <= t and t > 0, got "
                f"s={s_bad.flatten()[first].item()}, t={t_bad.flatten()[first].item()}"
            )
        alpha_t = self._alpha(tt)
        return _same_kind((self._alpha(ss) - alpha_t) / (1 - alpha_t), s, t)


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
        (tt,) = _as_tensors(t=t)
        return _same_kind(self._kappa(tt), t)

    def kappa_derivative(self, t: Time) -> Time:
        """kappa'(t) for t in [0, 1] (non-negative)."""
        (tt,) = _as_tensors(t=t)
        return _same_kind(self._kappa_derivative(tt), t)

    def weight(self, t: Time) -> Time:
        """Rate/loss weight kappa'(t) / (1 - kappa(t)); finite for t in [0, 1)."""
        (tt,) = _as_tensors(t=t)
        return _same_kind(self._kappa_derivative(tt) / (1 - self._kappa(tt)), t)
