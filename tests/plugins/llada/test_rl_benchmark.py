"""``benchmarks/rl.py``: each task's arms, and a start stopped inside a longer schedule."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import countdown_recipe as recipe
import rl

from dllm_core.data.spec import parse_dataset_spec


@pytest.mark.parametrize("task", sorted(rl.TASKS))
def test_both_arms_train_on_the_tasks_puzzles_and_grpo_is_rewarded_by_its_checker(task, tmp_path):
    args = rl.parse_args(["--task", task, "--output-dir", str(tmp_path), "--extra-reward", "format"])
    setting = rl.TASKS[task].setting
    grpo, sft = (rl.arm_config(name, args, tmp_path / "start") for name in ("grpo", "sft"))
    for config in (grpo, sft):
        [part] = parse_dataset_spec(config.data).parts
        assert part.source == setting.task and {k: str(v) for k, v in setting.options.items()} == {
            k: str(v) for k, v in part.extra.items()}
    answer = rl.TASKS[task].answer  # scored one token a step; GRPO's rollouts commit two a step
    assert sft.generator_defaults == answer
    assert grpo.generator_defaults == {**answer, "steps": answer["gen_length"] // 2}
    assert rl.arm_config("grpo", rl.parse_args(["--task", task, "--rollout-steps", "3"]), tmp_path
                         ).generator_defaults["steps"] == 3
    assert (grpo.mode, grpo.reward, sft.mode) == ("grpo", [setting.task, "format"], "sft")
    assert sft.learning_rate == grpo.learning_rate == 2e-4  # the same peak, unless --sft-lr names another
    assert rl.arm_config("sft", rl.parse_args(["--task", task, "--sft-lr", "1e-4"]), tmp_path).learning_rate == 1e-4


def test_the_countdown_task_is_the_recipes():
    assert rl.TASKS["countdown"].setting is recipe.SETTING
    held_out = rl.HeldOut.of(rl.TASKS["countdown"], 5)
    assert all(len(puzzle["prompt"].split("->")[0].split()) == 3 for puzzle in held_out.puzzles)


def test_arms_are_checked():
    with pytest.raises(SystemExit):
        rl.parse_args(["--arms", "grpo,ppo"])


def test_the_start_stops_inside_its_longer_schedule(tmp_path):
    # the demo's recipe on a 40-step schedule (warmup 0.2: 8 steps), stopped after 4 steps: the
    # 4th step ran at 3/8 of the peak rate, on the way up the warmup (a 4-step schedule would
    # have been decaying by then)
    task = dataclasses.replace(rl.TASKS["sudoku4"], start_schedule=40)
    start = rl.train_start(task, 4, seed=0, output_dir=tmp_path / "start")
    history = json.loads((start / "log_history.json").read_text())
    [logged] = [row for row in history if "learning_rate" in row]
    assert logged["step"] == 4 and logged["learning_rate"] == pytest.approx(2e-3 * 3 / 8)
    assert (start / "model.safetensors").is_file()


class _Answers:
    """A stand-in session answering each puzzle right or wrong by a table of (temperature, seed)."""

    def __init__(self, right: dict[tuple[float, int], list[bool]], puzzles: list[dict[str, str]]) -> None:
        self.right, self.puzzles = right, puzzles

    def params(self, values):
        return values

    def complete(self, prompts, params, chat, seed):
        from types import SimpleNamespace

        table = self.right[(params["temperature"], seed)]
        return [SimpleNamespace(text=puzzle["answer"] if ok else "no") for puzzle, ok in zip(self.puzzles, table)]


def test_headroom_counts_what_sampling_finds_beyond_greedy():
    held_out = rl.HeldOut.of(rl.TASKS["countdown"], 4)
    session = _Answers({(0.0, 0): [True, False, False, False],  # greedy
                        (1.0, 1): [True, True, False, False], (1.0, 2): [False, True, True, False]},
                       held_out.puzzles)
    assert held_out.headroom(session, 2, 1.0) == {
        "greedy": 0.25, "sampled": 0.5, "pass@2": 0.75, "found_by_sampling_only": 0.5, "mixed_groups": 0.5}


@pytest.mark.parametrize("anneal", [False, True])
def test_the_budget_anneals_the_learning_rate_with_the_time_spent(anneal, tmp_path):
    ticks = iter(range(10_000))  # a clock that advances one second each time it is read
    config = dataclasses.replace(rl.TASKS["sudoku4"].start_recipe(0, 100, tmp_path / "run"),
                                 lr_scheduler_type="constant", warmup_ratio=0.0, logging_steps=1,
                                 disable_progress_bar=True, save_steps=None)
    saves = rl.train_with_budget(config, seconds=12, every=1000, clock=lambda: next(ticks), anneal=anneal)
    history = json.loads((tmp_path / "run" / "log_history.json").read_text())
    rates = [row["learning_rate"] for row in history if "learning_rate" in row]
    assert 3 <= len(rates) <= 12 and saves[-1][1] >= 12  # stopped by the budget, not the 100 steps
    if anneal:  # lr * (1 - t / 12) at the clock's reading t: the peak at t = 0, then falling step by step
        seconds = [12 * (1 - rate / 2e-3) for rate in rates]
        assert seconds[0] == 0 and all(b > a for a, b in zip(seconds, seconds[1:]))
        assert seconds == pytest.approx([round(t) for t in seconds]) and seconds[-1] < 12
    else:
        assert rates == [2e-3] * len(rates)
