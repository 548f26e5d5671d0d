"""What a generation run hands back: the final canvas, the forward count and optional history."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class GenerationOutput:
    """Result of :func:`dllm_core.generation.generate`.

    Attributes:
        sequences: ``[B, L]`` the full canvas (prompt or padding, then the generated region).
        nfe: number of forward calls of the model (a classifier-free-guidance step is one call
            with batch ``2B``).
        histories: with ``return_history=True``, the canvas before the first step and after
            every step (``nfe + 1`` tensors of shape ``[B, L]``); otherwise ``None``.
    """

    sequences: torch.Tensor
    nfe: int
    histories: list[torch.Tensor] | None = None


@dataclass
class StepInfo:
    """What a per-step ``callback`` receives, right after a step committed its tokens.

    Attributes:
        block: index of the current block (0-based).
        step: index of the step inside the block (0-based).
        nfe: forward calls so far, this step included.
        tokens: ``[B, L]`` the live canvas; copy it to keep it (the loop keeps writing into it).
        committed: ``[B, L]`` bool, the positions this step filled.
    """

    block: int
    step: int
    nfe: int
    tokens: torch.Tensor
    committed: torch.Tensor
