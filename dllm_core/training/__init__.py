"""Training: :class:`DiffusionTrainer`, a ``transformers.Trainer`` driven by an ``Objective``.

Importing this package imports torch and transformers.
"""

from dllm_core.training.trainer import DiffusionTrainer

__all__ = ["DiffusionTrainer"]
