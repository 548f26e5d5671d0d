"""When each answer token was committed: a step callback that records the sampler's order.

Trajectory-aware RL (``--logp-estimator trajectory``, docs/rl.md) scores every token under the
canvas the sampler committed it from; this callback is how it learns that canvas. After a
generation, ``steps[b, j]`` is the index of the last step (counted over the whole run, blocks
included, from 0) that wrote column ``j`` of row ``b``, or ``-1`` when no step wrote it (the prompt,
padding, and columns a run that stopped early never reached).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch


class CommitOrder:
    """A ``StepCallback`` keeping, per canvas column, the last step that committed it."""

    def __init__(self) -> None:
        self.steps: torch.Tensor | None = None  # [B, L] long
        self.count = 0  # steps seen

    def __call__(self, info: Any) -> None:
        committed = info.committed.detach().cpu()  # [B, L] bool
        if self.steps is None:
            self.steps = torch.full(committed.shape, -1, dtype=torch.long)
        elif self.steps.shape[1] < committed.shape[1]:  # a canvas that grew between steps
            grown = torch.full(committed.shape, -1, dtype=torch.long)
            grown[:, :self.steps.shape[1]] = self.steps
            self.steps = grown
        self.steps[:, :committed.shape[1]][committed] = self.count
        self.count += 1

    def answer_steps(self, row: int, start: int, length: int) -> list[int]:
        """The commit steps of ``length`` answer tokens of ``row`` from column ``start`` (-1:
        never committed)."""
        if self.steps is None:
            return [-1] * length
        found: Sequence[int] = self.steps[row, start:start + length].tolist()
        return list(found) + [-1] * (length - len(found))
