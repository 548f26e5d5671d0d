"""Multi-digit addition (``addition``): prompt ``"4821+379="``, answer ``"5200"``.

:meth:`AdditionTask.check` accepts any string of digits whose value is the sum (surrounding
spaces ignored). A split is decided by the sorted addends, so ``a+b`` and ``b+a`` are the same
problem and never fall in different splits.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from dllm_core.data.tasks.base import Example, Task
from dllm_core.errors import DllmError

_PROMPT = re.compile(r"\s*(\d+)\+(\d+)=\s*")


@dataclass
class AdditionTask(Task):
    """Two addends, each with a number of digits drawn uniformly from
    ``min_digits..max_digits`` and then a value drawn uniformly among numbers of that length."""

    name = "addition"

    min_digits: int = 2  # fewest digits per addend
    max_digits: int = 5  # most digits per addend

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.min_digits <= self.max_digits:
            raise DllmError("addition: need 1 <= min_digits <= max_digits.")

    def _addend(self, rng: random.Random) -> int:
        digits = rng.randint(self.min_digits, self.max_digits)
        return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)

    def sample(self, rng: random.Random, split: str) -> Example | None:
        a, b = self._addend(rng), self._addend(rng)
        key = f"{min(a, b)}+{max(a, b)}"
        if not self.in_split(key, split):
            return None
        return Example(prompt=f"{a}+{b}=", answer=str(a + b), key=key)

    def check(self, prompt: str, answer: str) -> bool:
        match = _PROMPT.fullmatch(prompt)
        if match is None:
            raise DllmError(f"addition: the prompt must look like '4821+379=', got {prompt!r}.")
        answer = answer.strip()
        return answer.isdigit() and answer.isascii() and int(answer) == int(match[1]) + int(match[2])
