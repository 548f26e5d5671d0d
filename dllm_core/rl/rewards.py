"""Reward functions: the protocol, the built-in rewards, user functions, and failure-proof scoring.

A reward function follows trl's reward-function protocol, so one written for trl works here::

    def reward(prompts: list[str], completions: list[str], **columns) -> list[float | None]

``prompts`` are the task prompts (the user turn, before the chat template), ``completions``
the decoded answers, and ``columns`` every other field of the data rows (e.g. ``answer``), one
list entry per sample. It returns one number per sample.

Built-in rewards (registry kind ``rewards``, ``dllm list rewards``):

* ``sudoku4``, ``sudoku9``, ``countdown``, ``addition`` -- 1.0 when the task's checker accepts
  the answer (any valid answer, not only the reference), else 0.0;
* ``format`` -- 1.0 when the answer has the reference answer's layout (``answer`` column):
  every run of digits read as one number, every ``+ - * /`` as one operator, the rest kept, so
  ``"44-15=29,79-29=50"`` and ``"79-44=35,35+15=50"`` share a layout; else 0.0;
* ``sudoku-cells`` -- partial credit, d1's sudoku reward: the share of the puzzle's blank cells
  that the answer fills with the reference solution's digit (either grid size). Unlike the
  checker's 0 or 1 it tells a nearly solved grid from a wrong one, so a group of answers to a
  hard puzzle still differs in reward.

A user's function is named ``module:function`` (importable) or ``path/to/file.py:function``
(logged as ``file.py:function``).

:func:`score_rewards` never raises because of a reward: a function that raises, returns the
wrong number of values, or returns something that is not a finite number (``None`` included)
gives NaN for the samples concerned (a whole call that fails is retried sample by sample, so
only the offending samples are lost) and a :class:`RewardFailure` naming the reason.
Importing this module is cheap (no torch).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from dllm_core.errors import DllmError

logger = logging.getLogger(__name__)

#: ``f(prompts, completions, **columns) -> list[float | None]``
RewardFunction = Callable[..., Sequence[Any]]


@dataclass(frozen=True)
class TaskReward:
    """Correctness from a registered task's checker: 1.0 when ``task.check(prompt, answer)``."""

    task: str

    @property
    def __name__(self) -> str:  # what logs and metrics call it
        return self.task

    def __call__(self, prompts: Sequence[str], completions: Sequence[str], **columns: Any) -> list[float]:
        from dllm_core.registry import get_registry

        checker = get_registry().tasks.get(self.task)()
        return [1.0 if checker.check(prompt, answer) else 0.0 for prompt, answer in zip(prompts, completions)]


def answer_layout(text: str) -> str:
    """``text`` with each digit run as ``9`` and each of ``+ - * /`` as ``o`` (spaces dropped)."""
    return re.sub(r"[-+*/]", "o", re.sub(r"\d+", "9", re.sub(r"[ \t]", "", text.strip())))


def format_reward(prompts: Sequence[str], completions: Sequence[str], **columns: Any) -> list[float]:
    """1.0 when a completion has the layout of the row's reference ``answer`` (module doc)."""
    if "answer" not in columns:
        raise KeyError("the format reward compares with the reference answer: the data has no 'answer' field")
    return [1.0 if answer_layout(completion) == answer_layout(answer) else 0.0
            for completion, answer in zip(completions, columns["answer"])]


def sudoku_cells_reward(prompts: Sequence[str], completions: Sequence[str], **columns: Any) -> list[float]:
    """Per sample ``|{i blank : answer_i = reference_i}| / |blanks|`` over the cells in reading
    order: the prompt's ``0`` digits are the blanks, the completion's digits are read in order
    whatever separates them (cells it does not reach count as wrong)."""
    if "answer" not in columns:
        raise KeyError("the sudoku-cells reward compares with the reference solution: the data has no 'answer' field")
    scores = []
    for prompt, completion, answer in zip(prompts, completions, columns["answer"]):
        puzzle, reference, given = (re.findall(r"\d", text) for text in (prompt, answer, completion))
        blanks = [cell for cell, digit in enumerate(puzzle) if digit == "0"]
        if not blanks or len(reference) != len(puzzle):
            raise ValueError(f"not a sudoku puzzle with blanks and its solution: {prompt!r} / {answer!r}")
        scores.append(sum(cell < len(given) and given[cell] == reference[cell] for cell in blanks) / len(blanks))
    return scores


SUDOKU4 = TaskReward("sudoku4")
SUDOKU9 = TaskReward("sudoku9")
COUNTDOWN = TaskReward("countdown")
ADDITION = TaskReward("addition")


@dataclass(frozen=True)
class NamedReward:
    """A reward function and the name its metrics are logged under."""

    name: str
    function: RewardFunction


def resolve_reward(spec: str) -> NamedReward:
    """The reward registered as ``spec``, or a user's ``module:function`` / ``file.py:function``."""
    from dllm_core.registry import get_registry

    rewards = get_registry().registries["rewards"]
    if spec in rewards:
        return NamedReward(spec, rewards.get(spec))
    where, _, name = spec.rpartition(":")
    if not where or not name:
        rewards.entry(spec)  # raises the "unknown reward, did you mean" error
    module = _load_file(Path(where)) if where.endswith(".py") else _import(where, spec)
    function = getattr(module, name, None)
    if not callable(function):
        raise DllmError(f"--reward {spec}: {where} has no function '{name}'; name a function "
                        "f(prompts, completions, **columns) -> list[float] defined there")
    return NamedReward(f"{Path(where).name}:{name}" if where.endswith(".py") else spec, function)


def _import(module_name: str, spec: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise DllmError(f"--reward {spec}: cannot import {module_name} ({exc}); give an importable module, "
                        "a file as path/to/file.py:function, or a name from `dllm list rewards`") from None


def _load_file(path: Path) -> Any:
    if not path.is_file():
        raise DllmError(f"--reward: no file {path}; give path/to/file.py:function with an existing file")
    module_name = f"dllm_user_reward_{abs(hash(str(path.resolve())))}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 - the user's file failed to run
        raise DllmError(f"--reward: {path} failed to load ({type(exc).__name__}: {exc}); fix the file") from None
    sys.modules[module_name] = module
    return module


def default_rewards(data: str) -> list[str]:
    """The reward of a run that names none: the task's checker when every part of the dataset
    spec ``data`` is the same built-in task with a reward of its name."""
    from dllm_core.data.spec import parse_dataset_spec
    from dllm_core.registry import get_registry

    sources = {part.source for part in parse_dataset_spec(data).parts}
    rewards = get_registry().registries["rewards"]
    if len(sources) == 1 and next(iter(sources)) in rewards:
        return [next(iter(sources))]
    raise DllmError(f"--mode grpo needs a reward for --data {data}: name one or more with --reward "
                    "(`dllm list rewards`, or module:function / path.py:function)")


@dataclass(frozen=True)
class RewardFailure:
    """One sample a reward function could not score, and why."""

    reward: str
    index: int
    reason: str


@dataclass
class RewardScores:
    """Per reward function, one value per sample (NaN where it failed), and the failures."""

    values: dict[str, list[float]]
    failures: list[RewardFailure] = field(default_factory=list)

    def totals(self) -> list[float]:
        """Per sample, the sum over reward functions; NaN when any of them failed for it."""
        columns = list(self.values.values())
        return [math.fsum(row) if not any(math.isnan(v) for v in row) else math.nan for row in zip(*columns)]


def score_rewards(rewards: Sequence[NamedReward], prompts: Sequence[str], completions: Sequence[str],
                  columns: Mapping[str, Sequence[Any]] | None = None) -> RewardScores:
    """Every reward on every sample; failures become NaN and a logged :class:`RewardFailure`."""
    columns = dict(columns or {})
    scores = RewardScores({})
    for reward in rewards:
        values, failures = _score_batch(reward, list(prompts), list(completions), columns)
        if failures and len(prompts) > 1 and len(failures) == len(prompts):
            values, failures = _score_one_by_one(reward, list(prompts), list(completions), columns)
        scores.values[reward.name] = values
        scores.failures.extend(failures)
    for failure in {(f.reward, f.reason): f for f in scores.failures}.values():
        count = sum(1 for f in scores.failures if (f.reward, f.reason) == (failure.reward, failure.reason))
        logger.warning("reward %s failed on %d sample(s), which are left out of the update: %s",
                       failure.reward, count, failure.reason)
    return scores


def _score_batch(reward: NamedReward, prompts: list[str], completions: list[str],
                 columns: dict[str, Sequence[Any]], offset: int = 0) -> tuple[list[float], list[RewardFailure]]:
    count = len(prompts)
    try:
        result = list(reward.function(prompts=prompts, completions=completions, **columns))
    except Exception as exc:  # noqa: BLE001 - a reward may fail in any way; the run goes on
        reason = f"raised {type(exc).__name__}: {exc}"
        return [math.nan] * count, [RewardFailure(reward.name, offset + i, reason) for i in range(count)]
    if len(result) != count:
        reason = f"returned {len(result)} values for {count} samples"
        return [math.nan] * count, [RewardFailure(reward.name, offset + i, reason) for i in range(count)]
    values, failures = [], []
    for index, value in enumerate(result):
        number = _as_number(value)
        if number is None:
            failures.append(RewardFailure(reward.name, offset + index, f"returned {value!r}, not a finite number"))
            number = math.nan
        values.append(number)
    return values, failures


def _score_one_by_one(reward: NamedReward, prompts: list[str], completions: list[str],
                      columns: dict[str, Sequence[Any]]) -> tuple[list[float], list[RewardFailure]]:
    values: list[float] = []
    failures: list[RewardFailure] = []
    for index in range(len(prompts)):
        row = {key: [column[index]] for key, column in columns.items()}
        value, failed = _score_batch(reward, prompts[index:index + 1], completions[index:index + 1], row, index)
        values += value
        failures += failed
    return values, failures


def _as_number(value: Any) -> float | None:
    """``value`` as a finite float (bools and ints included; a 0-d tensor's ``item()``), else ``None``."""
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        try:
            value = value.item()
        except (TypeError, ValueError, RuntimeError):
            return None
    if isinstance(value, (int, float)) and math.isfinite(float(value)):
        return float(value)
    return None
