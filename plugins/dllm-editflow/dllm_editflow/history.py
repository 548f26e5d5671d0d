"""The edit history of one sampled row: what every tau-leap step did to the region.

A step is a list of cells in region order. Each region token before the step is one cell
(``keep``, ``delete``, or ``substitute`` with its old token), and an insertion after a position is
an ``insert`` cell right after that position's cell (insertions after the last prompt token come
first). Dropping ``delete`` cells gives the region after the step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from dllm_editflow.edits import Edits

Kind = Literal["keep", "insert", "delete", "substitute"]


@dataclass(frozen=True)
class Cell:
    """One token of a step: its id after the step (the removed id for ``delete``) and its kind."""

    token: int
    kind: Kind
    old: int | None = None  # the replaced token of a ``substitute``


@dataclass
class EditStep:
    """One tau-leap step of one row: its time and cells."""

    t: float
    cells: list[Cell]

    @property
    def region(self) -> list[int]:
        """The region after the step."""
        return [cell.token for cell in self.cells if cell.kind != "delete"]

    def count(self, kind: Kind) -> int:
        return sum(cell.kind == kind for cell in self.cells)

    @classmethod
    def of_row(cls, row: int, t: float, tokens: torch.Tensor, prompt_length: torch.Tensor | int,
               edits: Edits) -> "EditStep":
        """The cells of ``row`` given its tokens before the step ``[n]`` and the batch's edits."""
        start = int(prompt_length)
        inserted = {int(j): int(a) for b, j, a in edits.insert.tolist() if b == row}
        deleted = {int(j) for b, j in edits.delete.tolist() if b == row}
        substituted = {int(j): int(a) for b, j, a in edits.substitute.tolist() if b == row}
        cells: list[Cell] = []
        if start - 1 in inserted:
            cells.append(Cell(inserted[start - 1], "insert"))
        for j, token in enumerate(tokens.tolist()[start:], start=start):
            if j in deleted:
                cells.append(Cell(token, "delete"))
            elif j in substituted:
                cells.append(Cell(substituted[j], "substitute", old=token))
            else:
                cells.append(Cell(token, "keep"))
            if j in inserted:
                cells.append(Cell(inserted[j], "insert"))
        return cls(t, cells)


@dataclass
class EditHistory:
    """A row's prompt, its region at t = 0 (x_0) and every step after it."""

    prompt: list[int]
    initial: list[int]
    steps: list[EditStep] = field(default_factory=list)

    @property
    def final(self) -> list[int]:
        """The region after the last step."""
        return self.steps[-1].region if self.steps else list(self.initial)

    def totals(self) -> dict[str, int]:
        """How many insertions, deletions and substitutions the run made."""
        return {kind: sum(step.count(kind) for step in self.steps) for kind in ("insert", "delete", "substitute")}
