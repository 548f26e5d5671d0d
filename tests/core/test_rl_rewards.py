"""Rewards: the registry kind, the built-in checkers and format reward, user functions, defaults,
and scoring that turns a failing reward into a left-out sample instead of an error."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from dllm_core.errors import DllmError
from dllm_core.registry import get_registry
from dllm_core.rl.rewards import NamedReward, answer_layout, default_rewards, resolve_reward, score_rewards


@pytest.mark.parametrize("task", ["sudoku4", "sudoku9", "countdown", "addition"])
def test_builtin_correctness_rewards_use_the_task_checker(task):
    [record] = get_registry().tasks.get(task)().generate(1, seed=3)
    reward = resolve_reward(task)
    wrong = record["answer"][:-1] + ("1" if record["answer"][-1] != "1" else "2")
    assert reward.function([record["prompt"]] * 2, [record["answer"], wrong]) == [1.0, 0.0]


def test_countdown_reward_accepts_any_valid_chain():
    reward = resolve_reward("countdown").function
    assert reward(["44 15 79 -> 50", "44 15 79 -> 50"], ["44-15=29,79-29=50", "79-44=35,35+15=50"]) == [1.0, 1.0]


def test_format_reward_compares_layouts():
    assert answer_layout("44-15=29,79-29=50") == answer_layout("79-44=35, 35+15=50") == "9o9=9,9o9=9"
    reward = resolve_reward("format").function
    assert reward(["p"] * 3, ["12\n34", "1234", "ab"], answer=["43\n21"] * 3) == [1.0, 0.0, 0.0]
    scores = score_rewards([resolve_reward("format")], ["p"], ["1"])  # no answer column: a failure, no raise
    assert math.isnan(scores.values["format"][0]) and "answer" in scores.failures[0].reason


def test_sudoku_cells_reward_gives_the_share_of_blank_cells_right():
    reward = resolve_reward("sudoku-cells").function
    prompt, solution = "1034\n3400\n2143\n4312", "1234\n3421\n2143\n4312"  # blanks: cells 1, 6, 7
    answers = [solution, "1234\n3412\n2143\n4312", "1 2 3 4 / 3 4 2 1", "12", "4334\n3421\n2143\n4312"]
    # all three; cell 1 only; all three (any separators); cell 1, then nothing; cells 6 and 7 (givens not scored)
    assert reward([prompt] * 5, answers, answer=[solution] * 5) == pytest.approx([1, 1 / 3, 1, 1 / 3, 2 / 3])
    task = get_registry().tasks.get("sudoku9")()
    record = task.generate(1, seed=3)[0]
    assert reward([record["prompt"]], [record["answer"]], answer=[record["answer"]]) == [1.0]
    scores = score_rewards([resolve_reward("sudoku-cells")], ["p"], ["1"])  # no answer column: a failure, no raise
    assert math.isnan(scores.values["sudoku-cells"][0]) and "answer" in scores.failures[0].reason


def test_rewards_are_listed_by_the_cli():
    listed = subprocess.run([sys.executable, "-m", "dllm_core.cli.main", "list", "rewards"],
                            capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == ["addition", "countdown", "format", "sudoku-cells", "sudoku4", "sudoku9"]


def test_user_rewards_from_a_file_or_a_module(tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text("def length(prompts, completions, **columns):\n"
                                            "    return [len(c) for c in completions]\n")
    from_file = resolve_reward(f"{tmp_path / 'my_rewards.py'}:length")
    assert from_file.function(["p", "p"], ["ab", "abc"]) == [2, 3] and from_file.name == "my_rewards.py:length"
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_reward("my_rewards:length").function(["p"], ["abcd"]) == [4]
    with pytest.raises(DllmError, match="has no function 'missing'"):
        resolve_reward("my_rewards:missing")
    with pytest.raises(DllmError, match="no file"):
        resolve_reward(f"{tmp_path / 'absent.py'}:length")
    with pytest.raises(DllmError, match="cannot import"):
        resolve_reward("no_such_module_here:length")
    with pytest.raises(DllmError, match="sudoku4"):
        resolve_reward("sudoku5")  # unknown name: did you mean


def test_default_reward_is_the_task_checker():
    assert default_rewards("sudoku4[train:10]") == ["sudoku4"]
    assert default_rewards("countdown[train:5]+countdown[train:5,seed:1]") == ["countdown"]
    with pytest.raises(DllmError, match="--reward"):
        default_rewards("sudoku4+addition")
    with pytest.raises(DllmError, match="--reward"):
        default_rewards("chats.jsonl")


def _raises_on_x(prompts, completions, **columns):
    if any("x" in c for c in completions):
        raise ValueError("x is not allowed")
    return [1.0] * len(completions)


def test_a_failing_reward_fails_only_its_samples(caplog):
    completions = ["a", "x", "b", "c"]
    odd = NamedReward("odd", lambda prompts, completions, **c: [None if x == "b" else 2 for x in completions])
    short = NamedReward("short", lambda prompts, completions, **c: [1.0] * (len(completions) - 1))
    strings = NamedReward("strings", lambda prompts, completions, **c: ["1"] * len(completions))
    scores = score_rewards([NamedReward("x", _raises_on_x), odd, short, strings], ["p"] * 4, completions)
    assert scores.values["x"][0] == 1.0 and math.isnan(scores.values["x"][1])  # retried sample by sample
    assert scores.values["odd"][0] == 2.0 and math.isnan(scores.values["odd"][2])
    assert all(math.isnan(v) for v in scores.values["short"] + scores.values["strings"])
    reasons = {(f.reward, f.index): f.reason for f in scores.failures}
    assert "ValueError: x is not allowed" in reasons[("x", 1)]
    assert "None" in reasons[("odd", 2)] and "0 values for 1" in reasons[("short", 0)]
    assert "'1'" in reasons[("strings", 3)]
    assert all(math.isnan(t) for t in scores.totals())
    assert sum("left out of the update" in r.getMessage() for r in caplog.records) == 4  # one line per reason
    ok = score_rewards([odd, NamedReward("x", _raises_on_x)], ["p"] * 3, ["a", "b", "c"])
    assert ok.totals()[0] == 3.0 and math.isnan(ok.totals()[1]) and ok.totals()[2] == 3.0
