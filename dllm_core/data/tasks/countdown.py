"""Countdown (``countdown``): reach a target from 3 to 5 numbers with + - * /.

Prompt: the numbers then the target, ``"44 15 79 -> 50"``. Answer: equations separated by
commas, ``"44-15=29,79-29=50"``. :meth:`CountdownTask.check` accepts any chain in which every
equation is exact integer arithmetic on two operands taken from the pool (the given numbers
plus the results of earlier equations, each usable once), whose last result is the target.
Spaces and leading zeros in the answer are ignored. A split is decided by the numbers as a
sorted multiset plus the target, so reordering the numbers never moves a problem to the other
split.

Two options shape the training data without touching the checker: ``max_final`` bounds the
target alone (Dream's ``cd3_test.jsonl`` has targets 22..96 from numbers 1..99 while its
intermediate results reach the thousands), and ``width`` writes every number of the reference
answer with leading zeros to a fixed number of digits, ``"044-015=029,079-029=050"``: each
equation then has the same length, so digit ``k`` of every operand and result sits at the same
offset in every answer, and the target's digits sit at the answer's end.

:meth:`CountdownTask.from_external` reads the ``{"input": "15,44,79,50", "output": ...}`` rows
of external test sets (Dream's ``cd3_test.jsonl``: the last input number is the target).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Mapping

from dllm_core.data.tasks.base import Example, Record, Task
from dllm_core.errors import DllmError

_PROMPT = re.compile(r"\s*(\d+(?:\s+\d+)*)\s*->\s*(\d+)\s*")
_EQUATION = re.compile(r"(\d+)([-+*/])(\d+)=(\d+)")


def operate(a: int, op: str, b: int) -> int | None:
    """``a op b`` when it is exact integer arithmetic with a non-negative result, else ``None``."""
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        return a - b if a >= b else None
    return a // b if b and a % b == 0 else None  # "/"


def parse_prompt(prompt: str) -> tuple[list[int], int]:
    """The numbers and the target of a countdown prompt."""
    match = _PROMPT.fullmatch(prompt)
    if match is None:
        raise DllmError(
            f"countdown: the prompt must look like '44 15 79 -> 50' (numbers, '->', target), "
            f"got {prompt!r}."
        )
    return [int(n) for n in match.group(1).split()], int(match.group(2))


@dataclass
class CountdownTask(Task):
    """Countdown problems built by a random chain of operations over all the numbers, so each
    has at least one solution (the reference answer); intermediate results stay within
    ``1..max_target``."""

    name = "countdown"

    min_numbers: int = 3  # fewest given numbers
    max_numbers: int = 5  # most given numbers
    max_number: int = 99  # given numbers are drawn from 1..max_number
    max_target: int = 999  # no intermediate result or target exceeds this
    max_final: int = 0  # the target (last result) is at most this; 0: max_target
    width: int = 0  # digits of every number in the reference answer, zero-padded; 0: as is

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 2 <= self.min_numbers <= self.max_numbers:
            raise DllmError("countdown: need 2 <= min_numbers <= max_numbers.")
        if self.max_number < 2 or self.max_target < self.max_number:
            raise DllmError("countdown: need max_number >= 2 and max_target >= max_number.")
        if not 0 <= self.max_final <= self.max_target:
            raise DllmError(f"countdown: max_final must be in 1..max_target ({self.max_target}), "
                            f"got {self.max_final}; 0 (the default) bounds the target by max_target.")
        if self.width and self.width < len(str(self.max_target)):
            raise DllmError(f"countdown: width {self.width} cannot hold results up to max_target "
                            f"{self.max_target}; use width >= {len(str(self.max_target))}, or 0 for no padding.")

    def sample(self, rng: random.Random, split: str) -> Example | None:
        count = rng.randint(self.min_numbers, self.max_numbers)
        numbers = [rng.randint(1, self.max_number) for _ in range(count)]
        pool = list(numbers)
        steps: list[str] = []
        target = 0
        while len(pool) > 1:
            first = pool.pop(rng.randrange(len(pool)))
            second = pool.pop(rng.randrange(len(pool)))
            a, b = max(first, second), min(first, second)
            results = [(op, operate(a, op, b)) for op in "+-*/"]
            options = [(op, r) for op, r in results if r is not None and 0 < r <= self.max_target]
            if not options:
                return None
            op, target = rng.choice(options)
            steps.append(f"{a:0{self.width}}{op}{b:0{self.width}}={target:0{self.width}}")
            pool.append(target)
        if target in numbers or target > (self.max_final or self.max_target):
            return None  # trivial (the target is already given), or a target out of range
        key = " ".join(map(str, sorted(numbers))) + f" -> {target}"
        if not self.in_split(key, split):
            return None
        prompt = " ".join(map(str, numbers)) + f" -> {target}"
        return Example(prompt=prompt, answer=",".join(steps), key=key)

    @classmethod
    def from_external(cls, row: Mapping[str, str]) -> Record:
        """A record from an ``{"input": "15,44,79,50", "output": "44-15=29,79-29=50"}`` row:
        comma-separated numbers whose last one is the target, and a reference chain."""
        values = [value.strip() for value in row["input"].split(",")]
        if len(values) < 2 or not all(value.isascii() and value.isdigit() for value in values):
            raise DllmError(f"{cls.name}: an external input must be comma-separated numbers ending "
                            f"with the target, like '15,44,79,50'; got {row['input']!r}.")
        return {"prompt": " ".join(values[:-1]) + f" -> {values[-1]}", "answer": row["output"].strip()}

    def check(self, prompt: str, answer: str) -> bool:
        numbers, target = parse_prompt(prompt)
        equations = "".join(answer.split())
        if not equations:
            return False
        pool = Counter(numbers)
        result = None
        for equation in equations.split(","):
            match = _EQUATION.fullmatch(equation)
            if match is None:
                return False
            a, op, b, result = int(match[1]), match[2], int(match[3]), int(match[4])
            pool[a] -= 1
            pool[b] -= 1
            if pool[a] < 0 or pool[b] < 0 or operate(a, op, b) != result:
                return False
            pool[result] += 1
        return result == target
