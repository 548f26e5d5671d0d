"""One GRPO step runs for each kind of forward: masked (LLaDA), shifted (Dream), BERT-chat, block diffusion;
with d1's estimator and with the trajectory one (which reads each family's sampler's commit order)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("transformers")

from dllm_core.registry import get_registry  # noqa: E402
from dllm_core.training.run import run_training  # noqa: E402
from dllm_core.training.run_config import TrainRunConfig  # noqa: E402


@pytest.mark.parametrize("family, objective", [
    ("llada", {"objective": "block-diffusion", "objective_options": {"block_size": 2}}),
    ("dream", {}),
    ("bertchat", {}),
])
@pytest.mark.parametrize("estimator", ["d1", "trajectory"])
def test_one_grpo_step_per_family(tmp_path, family, objective, estimator):
    if family not in get_registry().families:
        pytest.skip(f"plugin of family {family} not installed")
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "answer": ""}) + "\n" for i in range(4)))
    rewards = tmp_path / "toy.py"
    rewards.write_text("def digits(prompts, completions, **columns):\n"
                       "    return [sum(ch.isdigit() for ch in text) for text in completions]\n")
    config = TrainRunConfig(family=family, preset="tiny", mode="grpo", data=f"{data}[train:4,test:0]",
                            output_dir=tmp_path / "run", reward=[f"{rewards}:digits"], max_steps=2, batch_size=2,
                            num_generations=2, num_iterations=2, logging_steps=1, disable_progress_bar=True,
                            generator_defaults={"max_new_tokens": 4, "steps": 4}, logp_estimator=estimator,
                            trajectory_shrinkage=2, **objective)
    run_training(config)
    history = json.loads((config.output_dir / "log_history.json").read_text())
    assert "reward" in history[0] and history[0]["completion_length"] > 0
    assert all(row["loss"] == row["loss"] for row in history if "loss" in row)  # finite, not NaN
    assert json.loads((config.output_dir / "dllm.json").read_text())["extra"]["mode"] == "grpo"
