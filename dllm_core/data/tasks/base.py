"""The ``Task`` contract shared by the built-in tasks, and the hash split they use.

A task generates ``{"prompt": str, "answer": str}`` records from a seed and checks answers.

Train/test disjointness: every problem has a canonical key (the sudoku puzzle itself, the
countdown numbers as a sorted multiset plus the target, the addends sorted). A stable hash of
the key, independent of any seed, assigns it to the test split with probability
``test_fraction`` and to train otherwise (:func:`split_of`). ``generate(n, seed, split)`` keeps
only problems of its split, so no seed, size or config ever puts one problem in both splits:
the splits partition the problem space. Within one call problems are distinct; asking for more
than the split's part of the space holds raises a :class:`DllmError`.
"""

from __future__ import annotations

import hashlib
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import ClassVar

from dllm_core.data.records import Message, as_messages
from dllm_core.errors import DllmError

SPLITS = ("train", "test")

#: a generated record: ``{"prompt": ..., "answer": ...}``
Record = dict[str, str]


def split_of(key: str, test_fraction: float) -> str:
    """``"test"`` or ``"train"`` for a problem's canonical ``key``: a stable, seed-free hash."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return "test" if int.from_bytes(digest, "big") < test_fraction * 2**64 else "train"


@dataclass(frozen=True)
class Example:
    """One generated problem: its text, a reference answer and its canonical key."""

    prompt: str
    answer: str
    key: str


@dataclass
class Task(ABC):
    """A generated task. Subclasses add their difficulty knobs as dataclass fields."""

    name: ClassVar[str] = ""

    seed: int = 0  # default seed of generate()
    train_size: int = 10_000  # train rows when a dataset spec gives no size
    test_size: int = 200  # test rows when a dataset spec gives no size
    test_fraction: float = 0.1  # share of the problem space reserved for the test split

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise DllmError(f"{self.name}: test_fraction must be in (0, 1), got {self.test_fraction}.")
        if self.train_size < 0 or self.test_size < 0:
            raise DllmError(f"{self.name}: train_size and test_size must be >= 0.")

    @abstractmethod
    def sample(self, rng: random.Random, split: str) -> Example | None:
        """Draw one problem of ``split`` (``None`` when the draw belongs to the other split)."""

    @abstractmethod
    def check(self, prompt: str, answer: str) -> bool:
        """Whether ``answer`` solves ``prompt``; any valid answer counts, not only the reference."""

    def in_split(self, key: str, split: str) -> bool:
        """Whether the problem with canonical ``key`` belongs to ``split``."""
        return split_of(key, self.test_fraction) == split

    def generate(self, n: int, seed: int | None = None, split: str = "train") -> list[Record]:
        """``n`` distinct problems of ``split``, deterministic in (config, ``seed``, ``split``)."""
        if split not in SPLITS:
            raise DllmError(f"{self.name}: unknown split '{split}'; use one of {SPLITS}.")
        if n < 0:
            raise DllmError(f"{self.name}: cannot generate {n} records; n must be >= 0.")
        seed = self.seed if seed is None else seed
        rng = random.Random(f"{self.name}:{split}:{seed}")
        records: list[Record] = []
        seen: set[str] = set()
        attempts, budget = 0, 100_000 + 50 * n
        while len(records) < n:
            attempts += 1
            if attempts > budget:
                raise DllmError(
                    f"{self.name}: found only {len(records)} distinct {split} problems of the "
                    f"{n} asked for with {self.describe()}; the {split} split's share of the "
                    "problem space is smaller. Ask for fewer, or change the difficulty settings."
                )
            example = self.sample(rng, split)
            if example is None or example.key in seen:
                continue
            seen.add(example.key)
            records.append({"prompt": example.prompt, "answer": example.answer})
        return records

    def describe(self) -> str:
        """The difficulty settings (the subclass's own fields), for messages."""
        own = [f.name for f in fields(self) if f.name not in _BASE_FIELDS]
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in own) or "default settings"

    @staticmethod
    def messages(record: Record) -> list[Message]:
        """The chat form of a generated record."""
        return as_messages(record["prompt"], record["answer"])


_BASE_FIELDS = frozenset(("seed", "train_size", "test_size", "test_fraction"))
