"""Sudoku tasks: 4x4 (``sudoku4``) and 9x9 (``sudoku9``) puzzles with a unique solution.

Text format (prompt and answer): ``size`` rows of digits separated by newlines, ``0`` for a
blank; the answer is the completed grid. :meth:`SudokuTask.check` accepts any valid completion
that keeps the givens, not only the reference answer.

How many blanks (hints = cells - blanks). Task options, also in a dataset spec
(``sudoku4[train:20000,min_blanks:4,max_blanks:12]``):

* ``blanks:K`` fixes every puzzle at ``K`` blanks;
* otherwise the counts run from ``min_blanks`` to ``max_blanks`` (defaults: the whole range the
  generator supports, 1..12 for 4x4 (4..15 hints), 1..55 for 9x9) and ``blank_distribution``
  shares the puzzles among them: ``uniform`` (the default: the same number of puzzles for every
  count) or one weight per count from ``min_blanks`` to ``max_blanks`` separated by ``/``
  (``1/1/2/4``: count ``k`` gets the share ``w_k / sum(w)``). ``generate(n)`` gives count ``k``
  exactly its share of ``n`` rounded by largest remainder (ties to the smaller count), draws
  each count's puzzles from its own random stream, and shuffles them together.

Splits are disjoint by puzzle (see :mod:`dllm_core.data.tasks.base`), at every blank count:

* ``sudoku4`` hashes the puzzle text itself. The 4x4 space is small: 288 complete grids, and
  the number of distinct puzzles with a unique solution per number of blanks is
  (blanks: puzzles) 1: 4,608; 2: 34,560; 4: 522,624; 6: 2,204,928; 8: 2,961,024;
  10: 1,041,408; 11: 284,160; 12: 25,728; 13 or more: none (a unique 4x4 puzzle needs at least
  4 givens). The test split holds about ``test_fraction`` of them, train the rest; asking one
  split for more distinct puzzles of a count than its share raises an error (1 blank: about
  460 test and 4,100 train puzzles).
* ``sudoku9`` hashes the solution grid, which a unique puzzle determines, so a puzzle can never
  land in both splits either; checking the split before carving blanks keeps test generation
  cheap.

:meth:`SudokuTask.from_external` reads the ``{"input": ..., "output": ...}`` rows of external
test sets (Dream's ``sudoku_4x4_K.jsonl``), which already use this text format.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
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
    """A sudoku of side ``size`` with a unique solution; blank counts as the module doc says."""

    size: ClassVar[int] = 0  # side of the grid
    blank_limit: ClassVar[int] = 0  # most blanks the generator supports for this side
    default_max_blanks: ClassVar[int] = 0  # max_blanks when none is given

    blanks: int = 0  # a fixed number of blanks per puzzle; 0: counts from min_blanks to max_blanks
    min_blanks: int = 1  # fewest blanks (most hints)
    max_blanks: int = 0  # most blanks (fewest hints); 0: the side's default_max_blanks
    blank_distribution: str = "uniform"  # "uniform" or "/"-separated weights, one per count

    def __post_init__(self) -> None:
        super().__post_init__()
        limit = self.blank_limit
        if self.blanks:
            if not 1 <= self.blanks <= limit:
                raise DllmError(f"{self.name}: blanks must be between 1 and {limit}, got {self.blanks}.")
            if (self.min_blanks, self.max_blanks) not in ((1, 0), (self.blanks, self.blanks)):
                raise DllmError(
                    f"{self.name}: blanks:{self.blanks} fixes the count, so it cannot be combined with "
                    f"min_blanks:{self.min_blanks}/max_blanks:{self.max_blanks}; give one or the other."
                )
            self.min_blanks = self.max_blanks = self.blanks
        self.max_blanks = self.max_blanks or self.default_max_blanks
        if not 1 <= self.min_blanks <= self.max_blanks <= limit:
            raise DllmError(
                f"{self.name}: need 1 <= min_blanks <= max_blanks <= {limit}, got min_blanks="
                f"{self.min_blanks}, max_blanks={self.max_blanks}."
            )
        if self.min_blanks == self.max_blanks:
            self.blanks = self.min_blanks  # one count: sample() reads it
        self.blank_weights()  # refuse a bad distribution now, not at the first generate()

    def blank_weights(self) -> dict[int, float]:
        """The weight of each blank count from ``min_blanks`` to ``max_blanks``."""
        counts = range(self.min_blanks, self.max_blanks + 1)
        if self.blank_distribution == "uniform":
            return {count: 1.0 for count in counts}
        expected = (f"{self.name}: blank_distribution must be 'uniform' or {len(counts)} non-negative "
                    f"weights separated by '/' (one per blank count {self.min_blanks}..{self.max_blanks}, "
                    f"e.g. {'/'.join(['1'] * len(counts))})")
        try:
            weights = [float(text) for text in self.blank_distribution.split("/")]
        except ValueError:
            raise DllmError(f"{expected}; got {self.blank_distribution!r}.") from None
        if len(weights) != len(counts) or not all(0 <= w < float("inf") for w in weights) or not sum(weights):
            raise DllmError(f"{expected}, not all zero; got {self.blank_distribution!r}.")
        return dict(zip(counts, weights))

    def blank_quotas(self, n: int) -> dict[int, int]:
        """How many of ``n`` puzzles get each blank count: ``n * w_k / sum(w)`` rounded by
        largest remainder (ties to the smaller count), so the quotas sum to ``n``."""
        weights = self.blank_weights()
        total = sum(weights.values())
        exact = {count: n * weight / total for count, weight in weights.items()}
        quotas = {count: int(share) for count, share in exact.items()}
        by_remainder = sorted(exact, key=lambda count: (-(exact[count] - quotas[count]), count))
        for count in by_remainder[: n - sum(quotas.values())]:
            quotas[count] += 1
        return quotas

    def generate(self, n: int, seed: int | None = None, split: str = "train") -> list[Record]:
        """``n`` distinct puzzles of ``split``, :meth:`blank_quotas` of each blank count, shuffled.

        Count ``k`` draws from its own stream (seed ``100 * seed + k``; no side supports 100
        blanks), so changing the range or the weights leaves each count's puzzles a prefix of
        the same sequence."""
        if self.min_blanks == self.max_blanks:
            return super().generate(n, seed, split)
        seed = self.seed if seed is None else seed
        records: list[Record] = []
        for count, quota in self.blank_quotas(n).items():
            if quota:
                fixed = replace(self, blanks=count, min_blanks=count, max_blanks=count, blank_distribution="uniform")
                records.extend(fixed.generate(quota, 100 * seed + count, split))
        random.Random(f"{self.name}:{split}:{seed}:mix").shuffle(records)
        return records

    @classmethod
    def puzzle(cls, prompt: str) -> Grid:
        """The grid of a prompt in the text format (0 for a blank); refuses any other text."""
        puzzle = parse_grid(prompt, cls.size, blanks_allowed=True)
        if puzzle is None:
            raise DllmError(f"{cls.name}: the prompt is not {cls.size} rows of {cls.size} digits (0 for a "
                            f"blank): {prompt!r}.")
        return puzzle

    @classmethod
    def hints(cls, prompt: str) -> int:
        """The number of given cells of a puzzle in the text format."""
        return sum(1 for digit in cls.puzzle(prompt) if digit)

    @classmethod
    def from_external(cls, row: Mapping[str, str]) -> Record:
        """A record from an ``{"input": puzzle, "output": solution}`` row in the text format."""
        prompt, answer = row["input"].strip(), row["output"].strip()
        if parse_grid(prompt, cls.size, blanks_allowed=True) is None:
            raise DllmError(f"{cls.name}: an external input must be {cls.size} rows of {cls.size} digits "
                            f"(0 for a blank); got {prompt!r}.")
        return {"prompt": prompt, "answer": answer}

    def check(self, prompt: str, answer: str) -> bool:
        puzzle = self.puzzle(prompt)
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
    blank_limit = 12
    default_max_blanks = 12

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
    while the solution stays unique. Cost per puzzle (measured on one CPU core): 2 ms at 1
    blank, 5 ms at 20, 11 ms at 40, 20 ms at 50, 55 ms at 55, 0.5 s at 58 (most carvings get
    stuck early beyond 55), hence the default range 1..55 (about 15 ms a puzzle on average)."""

    name = "sudoku9"
    size = 9
    blank_limit = 58
    default_max_blanks = 55

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
