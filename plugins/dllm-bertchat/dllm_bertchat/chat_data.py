"""``bertchat-qa``: the bundled chat-style SFT set, built offline from the core's own tasks.

Each record is one question in plain words and its answer, drawn from the built-in
``addition``, ``countdown`` and ``sudoku4`` tasks (``kinds`` picks which, in equal shares)::

    What is 562+67?                                -> 629
    Reach the target with + - * /: 12 5 3 -> 20     -> 12+5=17,17+3=20
    Solve this sudoku (0 is blank): 1340 ...       -> 1342 4231 3124 2413

Records are ``{"prompt", "answer"}`` like every task, which training turns into a user turn and
an assistant turn (:meth:`Task.messages` gives that chat form). The train/test split of a
question is the split its underlying task gives the problem, so the splits never share one.
:meth:`BertChatQATask.check` hands the answer to the underlying task's check.

Use it as a dataset spec: ``bertchat-qa[train:2000,test:100]``, ``bertchat-qa[kinds:addition+countdown]``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

from dllm_core.api import AdditionTask, CountdownTask, DllmError, Example, Sudoku4Task, Task


@dataclass(frozen=True)
class Phrasing:
    """How one task's prompt becomes a question, and back."""

    before: str  # text before the task's prompt
    after: str  # text after it
    drop: str = ""  # ending of the task's prompt left out of the question (addition's "=")

    def ask(self, prompt: str) -> str:
        return f"{self.before}{prompt.removesuffix(self.drop)}{self.after}"

    def unwrap(self, question: str) -> str | None:
        """The task prompt inside ``question``, or ``None`` when it is not this phrasing."""
        if question.startswith(self.before) and question.endswith(self.after):
            return question[len(self.before):len(question) - len(self.after)] + self.drop
        return None


@dataclass(frozen=True)
class Kind:
    """One source task of the mix: its question phrasing and how to build it."""

    phrasing: Phrasing
    build: Callable[["BertChatQATask"], Task]  # the task, from the mix's settings


def _addition(mix: "BertChatQATask") -> Task:
    return AdditionTask(min_digits=1, max_digits=mix.max_digits, test_fraction=mix.test_fraction)


def _countdown(mix: "BertChatQATask") -> Task:
    return CountdownTask(min_numbers=3, max_numbers=3, max_number=20, max_target=99,
                         test_fraction=mix.test_fraction)


def _sudoku4(mix: "BertChatQATask") -> Task:
    return Sudoku4Task(blanks=mix.blanks, test_fraction=mix.test_fraction)


KINDS: dict[str, Kind] = {
    "addition": Kind(Phrasing("What is ", "?", drop="="), _addition),
    "countdown": Kind(Phrasing("Reach the target with + - * /: ", ""), _countdown),
    "sudoku4": Kind(Phrasing("Solve this sudoku (0 is blank):\n", ""), _sudoku4),
}


@dataclass
class BertChatQATask(Task):
    """Questions and answers mixed from the built-in arithmetic and puzzle tasks."""

    name = "bertchat-qa"

    kinds: str = "addition+countdown+sudoku4"  # "+"-separated kinds, drawn in equal shares
    max_digits: int = 3  # most digits per addend in addition questions
    blanks: int = 4  # blank cells per sudoku4 puzzle

    def __post_init__(self) -> None:
        super().__post_init__()
        chosen = [kind.strip() for kind in self.kinds.split("+")]
        if not all(kind in KINDS for kind in chosen):
            raise DllmError(f"{self.name}: kinds must name some of {', '.join(KINDS)}, got {self.kinds!r}.")

    @cached_property
    def tasks(self) -> dict[str, Task]:
        """The source tasks of the chosen kinds, by kind."""
        return {kind.strip(): KINDS[kind.strip()].build(self) for kind in self.kinds.split("+")}

    def sample(self, rng: random.Random, split: str) -> Example | None:
        kind = rng.choice(sorted(self.tasks))
        example = self.tasks[kind].sample(rng, split)
        if example is None:
            return None
        question = KINDS[kind].phrasing.ask(example.prompt)
        return Example(prompt=question, answer=example.answer, key=f"{kind}:{example.key}")

    def check(self, prompt: str, answer: str) -> bool:
        for kind, task in self.tasks.items():
            inner = KINDS[kind].phrasing.unwrap(prompt)
            if inner is not None:
                return task.check(inner, answer)
        raise DllmError(f"{self.name}: {prompt!r} is not one of this set's questions ({self.kinds}).")
