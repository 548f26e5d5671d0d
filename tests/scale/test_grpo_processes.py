"""``dllm train --mode grpo`` with 2 CPU processes: the run starts, scores its groups and updates.

The start is the scale tests' reference checkpoint (8 SFT steps of the tiny LLaDA preset): too
weak to solve a sudoku, so the reward is a toy one whose value varies between the answers of a
group (how many ``1`` an answer holds), which gives non-zero advantages from the first step.
"""

from __future__ import annotations

import json

import torch
from scale_runs import dllm, logits_of

STEPS = 3


def test_grpo_with_two_processes_scores_groups_and_moves_the_model(reference, tmp_path):
    reward = tmp_path / "reward.py"
    reward.write_text("def ones(prompts, completions, **kwargs):\n"
                      "    return [float(str(c).count('1')) for c in completions]\n")
    output = tmp_path / "grpo"
    result = dllm("train", "--model", str(reference), "--mode", "grpo", "--data", "sudoku4[train:32,test:0]",
                  "--reward", f"{reward}:ones", "--batch-size", "2", "--num-generations", "4",
                  "--max-steps", str(STEPS), "--logging-steps", "1", "--beta", "0.02", "--no-progress",
                  "--num-processes", "2", "--output-dir", str(output))
    assert "processes: 2" in result.stdout
    assert json.loads((output / "dllm.json").read_text())["extra"]["processes"] == 2
    steps = [row for row in json.loads((output / "log_history.json").read_text()) if "reward" in row]
    assert [row["step"] for row in steps] == list(range(1, STEPS + 1))
    assert steps[0]["reward_std"] > 0 and steps[0]["grad_norm"] > 0  # the groups' answers differ: a real update
    assert steps[0]["kl"] == 0 and all(row["kl"] > 0 for row in steps[1:])  # it moved away from the start
    assert not torch.allclose(logits_of(output), logits_of(reference))
