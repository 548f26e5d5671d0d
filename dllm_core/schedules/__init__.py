"""Noise schedules alpha(t) for masked diffusion, and the edit-schedule contract kappa(t).

* :mod:`.base` — the contracts :class:`NoiseSchedule` (alpha(t)) and :class:`EditSchedule`
  (kappa(t), implemented by the Edit Flows plugin);
* :mod:`.noise` — the built-in noise schedules linear, cosine, polynomial, loglinear;
* :mod:`.config` — :class:`Schedule`, the root of both: registry name and ``to_config``/``to_json``
  round trip; :func:`schedule_from_config` rebuilds any registered schedule, plugins' included.

The conformance suites in :mod:`dllm_core.testing.schedules` check an implementation against its
contract. Importing this package imports torch.
"""

from dllm_core.schedules.base import EditSchedule, NoiseSchedule
from dllm_core.schedules.config import Schedule, schedule_from_config
from dllm_core.schedules.noise import CosineSchedule, LinearSchedule, LogLinearSchedule, PolynomialSchedule

__all__ = [
    "CosineSchedule",
    "EditSchedule",
    "LinearSchedule",
    "LogLinearSchedule",
    "NoiseSchedule",
    "PolynomialSchedule",
    "Schedule",
    "schedule_from_config",
]
