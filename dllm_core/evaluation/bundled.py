"""The bundled offline lm-eval tasks over dllm's built-in task generators.

``dllm_sudoku4``, ``dllm_countdown`` and ``dllm_addition`` (YAML configs in ``tasks/``) generate
their test split from the registered task (:mod:`dllm_core.data.tasks`) with a fixed seed, in
memory, so they need no network. Each doc is ``{"task", "prompt", "answer"}``; the model sees
the prompt (in the chat template with ``--apply_chat_template``, the form ``dllm train`` uses)
and the metric ``solved`` is the task's own checker applied to the generated answer, so any
valid answer counts, not only the reference one.

``dllm_sudoku4_mc`` is the likelihood counterpart (``multiple_choice``, metric ``acc``): the same
test problems, each with the reference answer among ``dllm_choices - 1`` distractors made by
changing one digit of it, every distractor rejected by the task's checker
(:func:`multiple_choice_docs`); the gold position is drawn at random.

The lm-eval hooks here are referenced from the YAML files through ``tasks/utils.py``.
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path
from typing import Any

from dllm_core.data.tasks.base import Task
from dllm_core.registry import get_registry

TASKS_DIR = Path(__file__).parent / "tasks"
BUNDLED_TASKS = ("dllm_sudoku4", "dllm_countdown", "dllm_addition", "dllm_sudoku4_mc")
DIGITS = "0123456789"


@cache
def registered_task(name: str) -> Task:
    """The registered built-in task ``name`` with its default settings."""
    return get_registry().tasks.get(name)()


def generate_docs(task: str, rows: int, seed: int) -> list[dict[str, str]]:
    """``rows`` test-split problems of ``task`` generated with ``seed``, tagged with the task name."""
    return [{"task": task, **record} for record in registered_task(task).generate(rows, seed=seed, split="test")]


def one_digit_changed(answer: str, rng: random.Random) -> str:
    """``answer`` with one of its digits replaced by another digit."""
    positions = [index for index, char in enumerate(answer) if char in DIGITS]
    if not positions:
        raise ValueError(f"answer {answer!r} has no digit to change")
    index = rng.choice(positions)
    return answer[:index] + rng.choice(DIGITS.replace(answer[index], "")) + answer[index + 1:]


def multiple_choice_docs(task: str, rows: int, seed: int, choices: int = 4) -> list[dict[str, Any]]:
    """:func:`generate_docs` with ``choices`` (the answer and ``choices - 1`` distinct one-digit
    changes of it that the task's checker rejects, shuffled) and ``gold`` (the answer's index)."""
    rng = random.Random(seed)
    checker = registered_task(task)
    docs = []
    for doc in generate_docs(task, rows, seed):
        wrong: list[str] = []
        for _ in range(100 * choices):
            candidate = one_digit_changed(doc["answer"], rng)
            if candidate not in wrong and not checker.check(doc["prompt"], candidate):
                wrong.append(candidate)
            if len(wrong) == choices - 1:
                break
        options = [doc["answer"], *wrong]
        rng.shuffle(options)
        docs.append({**doc, "choices": options, "gold": options.index(doc["answer"])})
    return docs


def load_multiple_choice_dataset(dllm_task: str, dllm_rows: int, dllm_seed: int, dllm_choices: int = 4,
                                 **_metadata: Any) -> Any:
    """lm-eval ``custom_dataset`` hook of the multiple-choice tasks (:func:`multiple_choice_docs`)."""
    from datasets import Dataset, DatasetDict

    docs = multiple_choice_docs(dllm_task, dllm_rows, dllm_seed, dllm_choices)
    return DatasetDict({"test": Dataset.from_list(docs)})


def load_dataset(dllm_task: str, dllm_rows: int, dllm_seed: int, **_metadata: Any) -> Any:
    """lm-eval ``custom_dataset`` hook: a ``DatasetDict`` with the ``test`` split.

    lm-eval also passes the task's metadata (and ``--model_args``); only the ``dllm_*`` keys of
    ``dataset_kwargs`` matter here.
    """
    from datasets import Dataset, DatasetDict

    return DatasetDict({"test": Dataset.from_list(generate_docs(dllm_task, dllm_rows, dllm_seed))})


def process_results(doc: dict[str, str], results: list[str]) -> dict[str, float]:
    """lm-eval ``process_results`` hook: ``solved`` is 1.0 when the task's checker accepts the answer."""
    return {"solved": float(registered_task(doc["task"]).check(doc["prompt"], results[0]))}
