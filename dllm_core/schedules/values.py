"""Time arguments of schedules: python numbers or tensors, checked to lie in [0, 1].

Every schedule method takes ``t`` (and ``s``) either as a python number or as a tensor of any
shape, and returns the same kind: a python ``float`` for numbers (computed in float64), a tensor
of the input's dtype and device for tensors.
"""

from __future__ import annotations

from numbers import Real
from typing import Union

import torch

Time = Union[float, torch.Tensor]


def is_number(value: object) -> bool:
    """``True`` for python/numpy real numbers (not bools, not tensors)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def as_tensors(**values: Time) -> list[torch.Tensor]:
    """Convert named time values to tensors of one floating dtype and device.

    Numbers take the dtype and device of the first tensor among ``values`` (float64 on the CPU
    when all are numbers); integer tensors become the default float dtype. Each value must lie
    in [0, 1]: otherwise a ``ValueError`` names the argument and the first offending value.
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
        elif is_number(value):
            tensor = torch.tensor(float(value), dtype=dtype, device=device)
        else:
            raise TypeError(f"{name} must be a number or a torch.Tensor, got {type(value).__name__}")
        check_unit_interval(tensor, name)
        tensors.append(tensor)
    return tensors


def check_unit_interval(tensor: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` naming the first value of ``tensor`` outside [0, 1] (NaN included)."""
    outside = ~((tensor >= 0) & (tensor <= 1))
    if bool(outside.any()):
        value = tensor[outside].flatten()[0].item()
        raise ValueError(f"{name} must lie in [0, 1], got {name}={value}")


def same_kind(result: torch.Tensor, *inputs: Time) -> Time:
    """Return ``result`` as a python float when every input was a number, else as a tensor."""
    if all(is_number(value) for value in inputs):
        return float(result)
    return result
