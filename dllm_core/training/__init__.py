"""Training: :class:`DiffusionTrainer`, a ``transformers.Trainer`` driven by an ``Objective``.

``DiffusionTrainer`` (and so torch and transformers) is imported on first access, so the
launcher modules of this package stay light for the CLI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DiffusionTrainer"]


def __getattr__(name: str) -> Any:
    if name == "DiffusionTrainer":
        from dllm_core.training.trainer import DiffusionTrainer

        return DiffusionTrainer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
