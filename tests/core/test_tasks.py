"""Built-in tasks: generation, uniqueness, checkers, disjoint splits, determinism, registry."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from dllm_core.data.tasks.addition import AdditionTask
from dllm_core.data.tasks.base import split_of
from dllm_core.data.tasks.countdown import CountdownTask
from dllm_core.data.tasks.sudoku import Sudoku4Task, Sudoku9Task
from dllm_core.data.tasks.sudoku_grid import all_solutions, count_solutions, format_grid, parse_grid
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry


def _prompts(records: list[dict[str, str]]) -> set[str]:
    return {record["prompt"] for record in records}


# -- sudoku ------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", [Sudoku4Task(blanks=10), Sudoku9Task(blanks=45)], ids=["4x4", "9x9"])
def test_sudoku_puzzles_have_the_chosen_blanks_and_one_solution(task):
    records = task.generate(40 if task.size == 4 else 4, seed=1)
    for record in records:
        puzzle = parse_grid(record["prompt"], task.size, blanks_allowed=True)
        assert puzzle is not None and puzzle.count(0) == task.blanks
        assert count_solutions(puzzle, task.size, limit=2) == 1
        assert task.check(record["prompt"], record["answer"])
        assert len(record["prompt"].split("\n")) == task.size


def test_sudoku_checker_accepts_any_valid_completion_and_rejects_wrong_ones():
    task = Sudoku4Task()
    grid = [1, 2, 3, 4,
            3, 4, 1, 2,
            2, 1, 4, 3,
            4, 3, 2, 1]
    puzzle = list(grid)
    for cell in (0, 2, 4, 6):  # 1/3 rectangle over two boxes: swapping it gives a second grid
        puzzle[cell] = 0
    completions = [g for g in all_solutions(4) if all(p in (0, v) for p, v in zip(puzzle, g))]
    assert len(completions) == 2
    prompt = format_grid(puzzle, 4)
    for completion in completions:
        assert task.check(prompt, format_grid(completion, 4))
    assert task.check(prompt, "  " + format_grid(grid, 4).replace("\n", " \n") + "\n")  # spacing
    other = next(g for g in all_solutions(4) if g[8:] != grid[8:])  # valid grid, breaks givens
    assert not task.check(prompt, format_grid(other, 4))
    broken = list(grid)
    broken[0], broken[2], broken[4], broken[6] = 1, 1, 3, 3  # keeps the givens, repeats digits
    assert not task.check(prompt, format_grid(broken, 4))
    assert not task.check(prompt, format_grid(puzzle, 4))  # blanks left
    assert not task.check(prompt, "1234\n3412")
    with pytest.raises(DllmError, match="rows"):
        task.check("not a sudoku", format_grid(grid, 4))


def test_sudoku4_splits_are_disjoint_for_large_sizes():
    task = Sudoku4Task()
    train = task.generate(20_000, seed=0, split="train")
    test = task.generate(2_000, seed=5, split="test")
    assert len(_prompts(train)) == 20_000 and len(_prompts(test)) == 2_000
    assert not _prompts(train) & _prompts(test)


def test_sudoku4_splits_partition_the_whole_puzzle_space():
    # one blank: 288 grids x 16 cells = 4608 puzzles, all with a unique solution
    task = Sudoku4Task(blanks=1)
    space = {
        format_grid([0 if i == cell else v for i, v in enumerate(grid)], 4)
        for grid in all_solutions(4) for cell in range(16)
    }
    assert len(space) == 4608
    shares = {split: {p for p in space if split_of(p, task.test_fraction) == split}
              for split in ("train", "test")}
    train = _prompts(task.generate(len(shares["train"]), split="train"))
    test = _prompts(task.generate(len(shares["test"]), split="test"))
    assert train == shares["train"] and test == shares["test"]
    assert not train & test and train | test == space
    with pytest.raises(DllmError, match="distinct test problems"):
        task.generate(len(shares["test"]) + 1, split="test")


def test_sudoku_rejects_impossible_blanks():
    with pytest.raises(DllmError, match="blanks must be between 1 and 12"):
        Sudoku4Task(blanks=13)


def _blank_counts(task, records):
    counts: dict[int, int] = {}
    for record in records:
        puzzle = parse_grid(record["prompt"], task.size, blanks_allowed=True)
        assert count_solutions(puzzle, task.size, limit=2) == 1  # every puzzle has one solution
        assert task.check(record["prompt"], record["answer"])
        assert task.hints(record["prompt"]) == task.size ** 2 - puzzle.count(0)
        counts[puzzle.count(0)] = counts.get(puzzle.count(0), 0) + 1
    return counts


def test_sudoku4_covers_every_hint_count_by_default_in_equal_shares():
    task = Sudoku4Task()
    records = task.generate(12 * 25 + 5, seed=3, split="test")
    counts = _blank_counts(task, records)
    assert sorted(counts) == list(range(1, 13))  # hints 15 down to 4
    assert sorted(counts.values()) == [25] * 7 + [26] * 5  # 305 = 12 x 25 + 5, the 5 to the fewest blanks
    assert [counts[b] for b in range(1, 6)] == [26] * 5
    assert len(_prompts(records)) == len(records)
    assert [r["prompt"].count("0") for r in records[:12]] != sorted(r["prompt"].count("0") for r in records[:12])


def test_sudoku_blank_weights_and_ranges_set_the_shares():
    task = Sudoku4Task(min_blanks=4, max_blanks=7, blank_distribution="1/0/2/1")
    assert task.blank_quotas(100) == {4: 25, 5: 0, 6: 50, 7: 25}
    assert _blank_counts(task, task.generate(100, seed=1)) == {4: 25, 6: 50, 7: 25}
    fixed = Sudoku4Task(min_blanks=12, max_blanks=12)
    assert fixed.blanks == 12 and _blank_counts(fixed, fixed.generate(20)) == {12: 20}
    nine = Sudoku9Task(min_blanks=1, max_blanks=3)
    assert _blank_counts(nine, nine.generate(6, seed=2)) == {1: 2, 2: 2, 3: 2}


def test_a_counts_puzzles_do_not_depend_on_the_other_counts():
    # each count draws from its own stream: widening the range keeps a count's puzzles
    narrow = Sudoku4Task(min_blanks=11, max_blanks=12).generate(40, seed=4)
    wide = Sudoku4Task(min_blanks=9, max_blanks=12).generate(80, seed=4)
    assert {r["prompt"] for r in narrow if r["prompt"].count("0") == 12} == \
        {r["prompt"] for r in wide if r["prompt"].count("0") == 12}


def test_sudoku_ranges_keep_the_splits_disjoint_at_every_count():
    task = Sudoku4Task(min_blanks=1, max_blanks=12)
    train = task.generate(12 * 300, seed=0, split="train")
    test = task.generate(12 * 30, seed=0, split="test")
    assert not _prompts(train) & _prompts(test)
    assert all(split_of(p, task.test_fraction) == "test" for p in _prompts(test))
    assert all(split_of(p, task.test_fraction) == "train" for p in _prompts(train))
    with pytest.raises(DllmError, match="distinct test problems .* blanks=1"):  # 1 blank: ~460 test puzzles
        task.generate(12 * 500, split="test")


@pytest.mark.parametrize("options, message", [
    ({"blanks": 5, "min_blanks": 2}, "blanks:5 fixes the count, so it cannot be combined with min_blanks"),
    ({"min_blanks": 8, "max_blanks": 4}, "need 1 <= min_blanks <= max_blanks <= 12, got min_blanks=8, max_blanks=4"),
    ({"min_blanks": 0}, "need 1 <= min_blanks"),
    ({"max_blanks": 13}, "max_blanks=13"),
    ({"blank_distribution": "1/2"}, "12 non-negative weights separated by '/'"),
    ({"min_blanks": 4, "max_blanks": 6, "blank_distribution": "1/x/2"}, r"3 non-negative weights .* got '1/x/2'"),
    ({"min_blanks": 4, "max_blanks": 6, "blank_distribution": "0/0/0"}, "not all zero"),
    ({"min_blanks": 4, "max_blanks": 6, "blank_distribution": "1/-1/2"}, "non-negative"),
    ({"blank_distribution": "linear"}, "must be 'uniform' or 12"),
])
def test_bad_blank_options_get_one_clear_error(options, message):
    with pytest.raises(DllmError, match=message):
        Sudoku4Task(**options)


def test_blank_options_come_from_a_dataset_spec():
    from dllm_core.data.sources import resolve_part
    from dllm_core.data.spec import DatasetSpecError, check_dataset_spec, parse_dataset_spec

    [part] = parse_dataset_spec("sudoku4[train:10,min_blanks:4,max_blanks:6,blank_distribution:1/1/2]").parts
    task = resolve_part(part).task
    assert (task.min_blanks, task.max_blanks, task.blank_quotas(8)) == (4, 6, {4: 2, 5: 2, 6: 4})
    with pytest.raises(DllmError, match="need 1 <= min_blanks <= max_blanks <= 58"):
        check_dataset_spec("sudoku9[min_blanks:3,max_blanks:70]")
    with pytest.raises(DatasetSpecError, match="option 'max_blanks' of part .* must be a int"):
        check_dataset_spec("sudoku4[max_blanks:many]")


# -- countdown ---------------------------------------------------------------------------------
def test_countdown_checker_accepts_alternative_chains():
    task = CountdownTask()
    prompt = "44 15 79 -> 50"
    assert task.check(prompt, "44-15=29,79-29=50")
    assert task.check(prompt, "79-44=35,35+15=50")  # another order of operations
    assert task.check(prompt, " 79 - 44 = 35 , 15 + 35 = 50 ")  # spaces ignored
    assert task.check("6 3 2 -> 4", "6/3=2,2+2=4")  # equal values are separate numbers


@pytest.mark.parametrize("answer", [
    "79-29=50",  # 29 is neither given nor computed
    "44-15=29,79-29=50,50+15=65",  # 15 used twice, and the last result is not the target
    "44-15=30,79-30=49",  # wrong arithmetic
    "79+15=94",  # does not reach the target
    "44-15=29,29+29=58",  # an intermediate result used twice
    "",
    "50",
    "44/15=2,79-29=50",  # inexact division
])
def test_countdown_checker_rejects_wrong_chains(answer):
    assert not CountdownTask().check("44 15 79 -> 50", answer)


def test_countdown_records_are_solvable_and_within_settings():
    task = CountdownTask(min_numbers=3, max_numbers=5)
    for record in task.generate(300, seed=2):
        numbers, _, target = record["prompt"].partition(" -> ")
        assert 3 <= len(numbers.split()) <= 5 and 0 < int(target) <= task.max_target
        assert task.check(record["prompt"], record["answer"])


# -- addition ----------------------------------------------------------------------------------
def test_addition_records_and_checker():
    task = AdditionTask(min_digits=2, max_digits=4)
    records = task.generate(200)
    for record in records:
        a, b = record["prompt"].rstrip("=").split("+")
        assert 2 <= len(a) <= 4 and 2 <= len(b) <= 4
        assert task.check(record["prompt"], record["answer"])
    assert task.check("12+30=", " 42 ")
    assert not task.check("12+30=", "43")
    assert not task.check("12+30=", "4 2")


# -- common contract ---------------------------------------------------------------------------
ALL_TASKS = [Sudoku4Task(), Sudoku9Task(blanks=30), CountdownTask(), AdditionTask()]


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda t: t.name)
def test_generation_is_deterministic_in_the_seed(task):
    from dllm_core.testing.generation import in_second_process

    n = 3 if task.name == "sudoku9" else 50
    assert task.generate(n, seed=7) == in_second_process(task.generate, n, 7)  # a fresh process agrees
    assert task.generate(n, seed=7) != task.generate(n, seed=8)
    assert dataclasses.replace(task, seed=7).generate(n) == task.generate(n, seed=7)


@pytest.mark.parametrize("task", [t for t in ALL_TASKS if t.name != "sudoku9"], ids=lambda t: t.name)
def test_splits_never_share_a_problem(task):
    train = _prompts(task.generate(3000, seed=0, split="train"))
    test = _prompts(task.generate(300, seed=0, split="test"))
    assert len(train) == 3000 and len(test) == 300 and not train & test


def test_sudoku9_splits_never_share_a_puzzle():
    task = Sudoku9Task(blanks=30)
    train = _prompts(task.generate(10, split="train"))
    test = _prompts(task.generate(5, split="test"))
    assert not train & test


def test_records_have_a_chat_form_and_splits_are_checked():
    record = AdditionTask().generate(1)[0]
    assert AdditionTask.messages(record) == [
        {"role": "user", "content": record["prompt"]},
        {"role": "assistant", "content": record["answer"]},
    ]
    with pytest.raises(DllmError, match="unknown split 'validation'"):
        AdditionTask().generate(1, split="validation")


def test_tasks_are_registered_under_their_names():
    tasks = get_registry().tasks
    expected = {"sudoku4": Sudoku4Task, "sudoku9": Sudoku9Task, "countdown": CountdownTask,
                "addition": AdditionTask}
    for name, task_class in expected.items():
        assert tasks.get(name) is task_class and task_class.name == name


def test_tasks_and_specs_import_without_torch_or_datasets():
    code = (
        "import sys, dllm_core.data.spec, dllm_core.data.records, dllm_core.data.tasks.sudoku, "
        "dllm_core.data.tasks.countdown, dllm_core.data.tasks.addition\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_split_of_is_pinned_and_near_the_fraction():
    # pinned: a change of the hash would silently move problems between splits
    assert [split_of(key, 0.1) for key in "abcdefghijklmnop"] == [
        "train"] * 4 + ["test"] + ["train"] * 10 + ["test"]
    assert [split_of(key, 0.5) for key in "abcd"] == ["test", "train", "test", "train"]
    keys = [f"problem {i}" for i in range(4000)]
    share = sum(split_of(key, 0.1) == "test" for key in keys) / len(keys)
    assert 0.08 < share < 0.12


# -- external test sets ({"input": ..., "output": ...} rows) ------------------------------------
def test_external_rows_become_records_the_checkers_score():
    countdown = CountdownTask.from_external({"input": "15,44,79,50", "output": "44-15=29,79-29=50"})
    assert countdown == {"prompt": "15 44 79 -> 50", "answer": "44-15=29,79-29=50"}
    assert CountdownTask().check(countdown["prompt"], countdown["answer"])
    sudoku = Sudoku4Task.from_external({"input": "1003\n0300\n3210\n4132\n", "output": "1423\n2341\n3214\n4132"})
    assert sudoku == {"prompt": "1003\n0300\n3210\n4132", "answer": "1423\n2341\n3214\n4132"}
    assert Sudoku4Task().check(sudoku["prompt"], sudoku["answer"])


@pytest.mark.parametrize("task, row", [
    (CountdownTask, {"input": "15 44 79 50", "output": ""}),
    (CountdownTask, {"input": "50", "output": ""}),
    (Sudoku4Task, {"input": "100\n030\n321", "output": ""}),
    (Sudoku9Task, {"input": "1003\n0300\n3210\n4132", "output": ""}),
], ids=["spaces", "target-only", "3x3", "4x4-as-9x9"])
def test_external_rows_in_another_format_are_rejected(task, row):
    with pytest.raises(DllmError, match="external input"):
        task.from_external(row)
