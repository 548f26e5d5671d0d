"""Sudoku tasks: 4x4 (``sudoku4``) and 9x9 (``sudoku9``) puzzles with a unique solution.

Text format (prompt and answer): ``size`` rows of digits separated by newlines, ``0`` for a
blank; the answer is the completed grid. :meth:`SudokuTask.check` accepts any valid completion
that keeps the givens, not only the reference answer.

Splits are disjoint by puzzle (see :mod:`dllm_core.data.tasks.base`):

* ``sudoku4`` hashes the puzzle text itself. The 4x4 space is small: 288 complete grids, and
  the number of distinct puzzles with a unique solution per number of blanks is
  (blanks: puzzles) 1: 4,608; 2: 34,560; 4: 522,624; 6: 2,204,928; 8: 2,961,024;
  10: 1,041,408; 11: 284,160; 12: 25,728; 13 or more: none (a unique 4x4 puzzle needs at least
  4 givens). The test split holds about ``test_fraction`` of them, train the rest; asking one
  split for more distinct puzzles than its share raises an error.
* ``sudoku9`` hashes the solution grid, which a unique puzzle determines, so a puzzle can never
  land in both splits either; checking the split before carving blanks keeps test generation
  cheap.

:meth:`SudokuTask.from_external` reads the ``{"input": ..., "output": ...}`` rows of external
test sets (Dream's ``sudoku_4x4_K.jsonl``), which already use this text format.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from typing import ClassVar, Mapping

from dllm_core.data.tasks.base import Example, Record, Task
from dllm_core.data.tasks.sudoku_grid import (
    Grid,
    all_solutions,
    count_solutions,
    format_grid,
    is_solution_of,
    parse_grid,
    random_solution,
)
from dllm_core.errors import DllmError


@dataclass
class SudokuTask(Task):
    """A sudoku of side ``size`` with ``blanks`` blank cells and a unique solution."""

    size: ClassVar[int] = 0  # side of the grid
    max_blanks: ClassVar[int] = 0  # most blanks the generator supports for this side

    blanks: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.blanks <= self.max_blanks:
            raise DllmError(
                f"{self.name}: blanks must be between 1 and {self.max_blanks}, got {self.blanks}."
            )

    @classmethod
    def from_external(cls, row: Mapping[str, str]) -> Record:
        """A record from an ``{"input": puzzle, "output": solution}`` row in the text format."""
        prompt, answer = row["input"].strip(), row["output"].strip()
        if parse_grid(prompt, cls.size, blanks_allowed=True) is None:
            raise DllmError(f"{cls.name}: an external input must be {cls.size} rows of {cls.size} digits "
                            f"(0 for a blank); got {prompt!r}.")
        return {"prompt": prompt, "answer": answer}

    def check(self, prompt: str, answer: str) -> bool:
        puzzle = parse_grid(prompt, self.size, blanks_allowed=True)
        if puzzle is None:
            raise DllmError(
                f"{self.name}: the prompt is not {self.size} rows of {self.size} digits (0 for a "
                f"blank): {prompt!r}."
            )
        solution = parse_grid(answer, self.size, blanks_allowed=False)
        return solution is not None and is_solution_of(solution, puzzle, self.size)



@dataclass(frozen=True)
class _Tables4:
    """Precomputed 4x4 facts: the 288 grids, and for each grid and each pattern of givens in
    the top (cells 0-7) or bottom (cells 8-15) half, the bitset of grids agreeing there."""

    grids: list[Grid]
    texts: list[str]  # each grid in the text format
    top: list[list[int]]  # top[g][givens & 0xFF]
    bottom: list[list[int]]  # bottom[g][givens >> 8]


@cache
def _tables4() -> _Tables4:
    grids = all_solutions(4)
    having = [[0] * 5 for _ in range(16)]  # having[cell][digit]: bitset of grids
    for index, grid in enumerate(grids):
        for cell, digit in enumerate(grid):
            having[cell][digit] |= 1 << index
    everything = (1 << len(grids)) - 1

    def agreeing(grid: Grid, first_cell: int) -> list[int]:
        table = [everything] * 256
        for pattern in range(1, 256):
            low = pattern & -pattern  # build each pattern from the one without its lowest bit
            cell = first_cell + low.bit_length() - 1
            table[pattern] = table[pattern ^ low] & having[cell][grid[cell]]
        return table

    return _Tables4(
        grids,
        [format_grid(g, 4) for g in grids],
        [agreeing(g, 0) for g in grids],
        [agreeing(g, 8) for g in grids],
    )


@cache
def _blank_patterns(blanks: int) -> list[int]:
    """Every 16-bit pattern with ``blanks`` bits set (bit ``c`` = cell ``c`` is blank)."""
    return [pattern for pattern in range(1 << 16) if pattern.bit_count() == blanks]


@dataclass
class Sudoku4Task(SudokuTask):
    """4x4 sudoku: a uniformly drawn grid and blank pattern, kept when the solution is unique,
    so puzzles are uniform over the unique ones. Uniqueness is two table look-ups and an AND
    over bitsets of the 288 grids, so 20,000 puzzles take about a second."""

    name = "sudoku4"
    size = 4
    max_blanks = 12

    blanks: int = 10  # blank cells per puzzle, 1..12

    def sample(self, rng: random.Random, split: str) -> Example | None:
        tables = _tables4()
        index = rng.randrange(len(tables.grids))
        blank = rng.choice(_blank_patterns(self.blanks))
        givens = ~blank & 0xFFFF
        if tables.top[index][givens & 0xFF] & tables.bottom[index][givens >> 8] != 1 << index:
            return None  # another grid also fits the givens
        grid = tables.grids[index]
        puzzle = format_grid([0 if blank >> cell & 1 else digit for cell, digit in enumerate(grid)], 4)
        if not self.in_split(puzzle, split):
            return None
        return Example(prompt=puzzle, answer=tables.texts[index], key=puzzle)


@dataclass
class Sudoku9Task(SudokuTask):
    """9x9 sudoku: a random complete grid, then blanks carved in random order, each kept only
    while the solution stays unique. Up to about 55 blanks a puzzle takes tens of
    milliseconds; beyond that most carvings get stuck early and generation slows sharply."""

    name = "sudoku9"
    size = 9
    max_blanks = 58

    blanks: int = 40  # blank cells per puzzle, 1..58

    def sample(self, rng: random.Random, split: str) -> Example | None:
        solution = random_solution(9, rng)
        if not self.in_split(format_grid(solution, 9), split):
            return None
        puzzle = list(solution)
        order = list(range(81))
        rng.shuffle(order)
        carved = 0
        for cell in order:
            if carved == self.blanks:
                break
            puzzle[cell] = 0
            if count_solutions(puzzle, 9, limit=2) == 1:
                carved += 1
            else:
                puzzle[cell] = solution[cell]
        if carved < self.blanks:
            return None
        text = format_grid(puzzle, 9)
        return Example(prompt=text, answer=format_grid(solution, 9), key=text)
