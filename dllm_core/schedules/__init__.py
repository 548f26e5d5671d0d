"""Noise schedules alpha(t) for masked diffusion and edit schedules kappa(t) for Edit Flows.

Every schedule is a small frozen dataclass behind one contract (:class:`NoiseSchedule` or
:class:`EditSchedule`), registered by name, and round-trips through ``to_config``/``to_json``;
:func:`schedule_from_config` rebuilds any registered one. The conformance suites in
:mod:`dllm_core.testing.schedules` check an implementation against the contract.
Importing this package imports torch.
"""

from dllm_core.schedules.base import NoiseSchedule
from dllm_core.schedules.config import Schedule, schedule_from_config
from dllm_core.schedules.cosine import CosineSchedule
from dllm_core.schedules.edit import EditSchedule
from dllm_core.schedules.edit_cosine import EditCosineSchedule
from dllm_core.schedules.edit_cubic import EditCubicSchedule
from dllm_core.schedules.edit_linear import EditLinearSchedule
from dllm_core.schedules.linear import LinearSchedule
from dllm_core.schedules.loglinear import LogLinearSchedule
from dllm_core.schedules.polynomial import PolynomialSchedule

__all__ = [
    "CosineSchedule",
    "EditCosineSchedule",
    "EditCubicSchedule",
    "EditLinearSchedule",
    "EditSchedule",
    "LinearSchedule",
    "LogLinearSchedule",
    "NoiseSchedule",
    "PolynomialSchedule",
    "Schedule",
    "schedule_from_config",
]
