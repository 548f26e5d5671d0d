"""Countdown's training-data options: Dream's target range (``max_final``) and fixed-width answers
(``width``), with the checker's semantics unchanged."""

from __future__ import annotations

import re

import pytest

from dllm_core.data.tasks.countdown import CountdownTask
from dllm_core.errors import DllmError

#: the first rows of Dream's cd3_test.jsonl (3 numbers from 1..99, the target last)
DREAM_ROWS = [
    {"input": "15,44,79,50", "output": "44-15=29,79-29=50"},
    {"input": "65,34,56,25", "output": "65-34=31,56-31=25"},
    {"input": "27,34,72,65", "output": "34-27=7,72-7=65"},
    {"input": "1,2,12,25", "output": "2*12=24,1+24=25"},
    {"input": "99,15,19,65", "output": "99-15=84,84-19=65"},
]
DREAMLIKE = dict(min_numbers=3, max_numbers=3, max_final=99, width=3)


def numbers_and_target(prompt: str) -> tuple[list[int], int]:
    numbers, _, target = prompt.partition(" -> ")
    return [int(n) for n in numbers.split()], int(target)


def test_width_pads_every_number_and_changes_nothing_else():
    plain = CountdownTask(min_numbers=3, max_numbers=3, max_final=99).generate(300, seed=5)
    padded = CountdownTask(**DREAMLIKE).generate(300, seed=5)
    assert [r["prompt"] for r in padded] == [r["prompt"] for r in plain]  # prompts are never padded
    for p, q in zip(padded, plain):
        assert re.fullmatch(r"\d{3}[-+*/]\d{3}=\d{3},\d{3}[-+*/]\d{3}=\d{3}", p["answer"]), p["answer"]
        assert re.sub(r"\b0+(\d)", r"\1", p["answer"]) == q["answer"]  # the same chain, zeros dropped
        assert p["answer"].endswith(f"={numbers_and_target(p['prompt'])[1]:03d}")


def test_dreamlike_problems_match_dreams_ranges_and_pass_the_checker():
    task = CountdownTask(**DREAMLIKE)
    records = task.generate(500, seed=1)
    for record in records:
        numbers, target = numbers_and_target(record["prompt"])
        assert len(numbers) == 3 and all(1 <= n <= 99 for n in numbers)
        assert 1 <= target <= 99 and target not in numbers
        assert task.check(record["prompt"], record["answer"])
    assert len({numbers_and_target(r["prompt"])[1] for r in records}) > 50  # many targets, not a few
    for row in DREAM_ROWS:  # Dream's own problems fall in the same ranges and pass the same checker
        record = CountdownTask.from_external(row)
        numbers, target = numbers_and_target(record["prompt"])
        assert len(numbers) == 3 and max(numbers) <= task.max_number and target <= task.max_final
        assert task.check(record["prompt"], record["answer"])


def test_the_default_bounds_the_target_by_max_target_and_does_not_pad():
    task = CountdownTask(min_numbers=3, max_numbers=3)
    records = task.generate(300, seed=2)
    assert max(numbers_and_target(r["prompt"])[1] for r in records) > 99
    assert not any(re.search(r"\b0\d", r["answer"]) for r in records)


def test_the_checker_reads_leading_zeros_as_the_number():
    task = CountdownTask()
    assert task.check("15 44 79 -> 50", "044-015=029,079-029=050")
    assert not task.check("15 44 79 -> 50", "044-015=029,079-029=051")
    assert not task.check("15 44 79 -> 50", "044-016=028,079-028=051")


@pytest.mark.parametrize(("options", "message"), [
    (dict(max_final=1000), "max_final must be in 1..max_target"),
    (dict(max_final=-1), "max_final must be in 1..max_target"),
    (dict(width=2), "width 2 cannot hold results up to max_target 999; use width >= 3"),
])
def test_bad_options_name_the_fix(options, message):
    with pytest.raises(DllmError, match=re.escape(message)):
        CountdownTask(**options)
