"""Sudoku grids of side 4 (2x2 boxes) or 9 (3x3 boxes): text format, validity, solving.

A grid is a flat list of ``size * size`` ints, row by row, ``0`` for a blank. Its text is
``size`` rows of digits separated by newlines. The solver is a bitmask backtracking search that
fills the blank with the fewest candidates first; it counts solutions up to a limit (for
uniqueness) or, given a ``random.Random``, tries candidates in random order (random grids).
"""

from __future__ import annotations

import random
from math import isqrt

Grid = list[int]


def format_grid(cells: Grid, size: int) -> str:
    """``size`` rows of digits joined by newlines."""
    digits = "".join(map(str, cells))
    return "\n".join([digits[start:start + size] for start in range(0, size * size, size)])


def parse_grid(text: str, size: int, blanks_allowed: bool) -> Grid | None:
    """The cells of a grid's text (``None`` when it is not ``size`` rows of ``size`` digits).

    Surrounding whitespace of the whole text and of each row is ignored; digits are ``1..size``
    plus ``0`` when ``blanks_allowed``.
    """
    rows = text.strip().split("\n")
    if len(rows) != size:
        return None
    lowest = 0 if blanks_allowed else 1
    cells: Grid = []
    for row in rows:
        row = row.strip()
        if len(row) != size or not all(ch.isdigit() and lowest <= int(ch) <= size for ch in row):
            return None
        cells.extend(int(ch) for ch in row)
    return cells


def is_solution_of(solution: Grid, puzzle: Grid, size: int) -> bool:
    """Whether ``solution`` is a complete valid grid that keeps every given of ``puzzle``."""
    if any(given and given != value for given, value in zip(puzzle, solution)):
        return False
    box = isqrt(size)
    digits = set(range(1, size + 1))
    for i in range(size):
        row = {solution[i * size + c] for c in range(size)}
        column = {solution[r * size + i] for r in range(size)}
        top, left = (i // box) * box, (i % box) * box
        square = {solution[(top + r) * size + left + c] for r in range(box) for c in range(box)}
        if row != digits or column != digits or square != digits:
            return False
    return True


class _Search:
    """Backtracking over the blanks of one grid, with row/column/box digit bitmasks."""

    def __init__(self, cells: Grid, size: int) -> None:
        self.size = size
        self.cells = list(cells)
        self.full = (1 << size) - 1  # bit d-1 stands for digit d
        box = isqrt(size)
        self.rows, self.cols, self.boxes = [0] * size, [0] * size, [0] * size
        self.blanks: list[tuple[int, int, int, int]] = []  # (cell, row, column, box)
        self.consistent = True
        for cell, value in enumerate(self.cells):
            r, c = divmod(cell, size)
            b = (r // box) * box + c // box
            if value == 0:
                self.blanks.append((cell, r, c, b))
                continue
            bit = 1 << (value - 1)
            if (self.rows[r] | self.cols[c] | self.boxes[b]) & bit:
                self.consistent = False
            self.rows[r] |= bit
            self.cols[c] |= bit
            self.boxes[b] |= bit

    def count(self, blanks: list[tuple[int, int, int, int]], limit: int,
              rng: random.Random | None, collect: list[Grid] | None = None) -> int:
        """Solutions of the remaining ``blanks``, up to ``limit``.

        The last one found stays in ``self.cells`` when ``limit`` is reached; ``collect``, when
        given, receives a copy of every solution found.
        """
        if not blanks:
            if collect is not None:
                collect.append(list(self.cells))
            return 1
        best, best_candidates, best_count = 0, 0, self.size + 1
        for k, (_, r, c, b) in enumerate(blanks):
            candidates = self.full & ~(self.rows[r] | self.cols[c] | self.boxes[b])
            count = candidates.bit_count()
            if count < best_count:
                best, best_candidates, best_count = k, candidates, count
                if count <= 1:
                    break
        if best_count == 0:
            return 0
        cell, r, c, b = blanks[best]
        rest = blanks[:best] + blanks[best + 1:]
        bits = [1 << d for d in range(self.size) if best_candidates >> d & 1]
        if rng is not None:
            rng.shuffle(bits)
        found = 0
        for bit in bits:
            self.rows[r] |= bit
            self.cols[c] |= bit
            self.boxes[b] |= bit
            self.cells[cell] = bit.bit_length()
            found += self.count(rest, limit - found, rng, collect)
            self.rows[r] ^= bit
            self.cols[c] ^= bit
            self.boxes[b] ^= bit
            if found >= limit:
                return found
            self.cells[cell] = 0
        return found


def count_solutions(cells: Grid, size: int, limit: int = 2) -> int:
    """How many completions ``cells`` has, counting no further than ``limit``."""
    search = _Search(cells, size)
    return search.count(search.blanks, limit, None) if search.consistent else 0


def random_solution(size: int, rng: random.Random) -> Grid:
    """A random complete grid (backtracking fill in random candidate order)."""
    search = _Search([0] * size * size, size)
    search.count(search.blanks, 1, rng)
    return search.cells


def all_solutions(size: int) -> list[Grid]:
    """Every complete grid of side ``size`` (288 for side 4; never call it for side 9)."""
    solutions: list[Grid] = []
    search = _Search([0] * size * size, size)
    search.count(search.blanks, size ** (size * size), None, solutions)
    return solutions
