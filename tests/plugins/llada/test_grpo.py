"""``dllm train --mode grpo`` end to end on the tiny LLaDA preset: the reward of a toy task rises,
and a reward function that fails on some samples does not stop training."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from dllm_core.training.run import run_training  # noqa: E402
from dllm_core.training.run_config import TrainRunConfig  # noqa: E402

REWARDS = '''
def digits(prompts, completions, **columns):
    """Toy task: answer with digits. Reward: the share of the 4 answer tokens that are digits."""
    return [sum(ch.isdigit() for ch in text) / 4 for text in completions]


def flaky(prompts, completions, **columns):
    """Fails on some samples: raises for completions with an 'a', returns text for those with a 'b'."""
    if any("a" in text for text in completions):
        raise RuntimeError("cannot score an answer with an a")
    return ["not a number" if "b" in text else 1.0 for text in completions]
'''


def _config(tmp_path: Path, reward: str, steps: int, name: str) -> TrainRunConfig:
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "answer": "1234"}) + "\n" for i in range(64)))
    (tmp_path / "toy_rewards.py").write_text(REWARDS)
    return TrainRunConfig(
        family="llada", preset="tiny", mode="grpo", data=f"{data}[train:64,test:0]", output_dir=tmp_path / name,
        reward=[f"{tmp_path / 'toy_rewards.py'}:{reward}"], max_steps=steps, batch_size=4, num_generations=8,
        learning_rate=3e-3, lr_scheduler_type="constant", logging_steps=1, beta=0.0, temperature=1.0,
        generator_defaults={"gen_length": 4, "block_length": 4, "steps": 4}, disable_progress_bar=True, seed=0,
    )


@pytest.mark.parametrize("estimator", ["d1", "coupled", "trajectory"])
def test_grpo_raises_the_reward_of_a_toy_task(tmp_path, estimator):
    config = _config(tmp_path, "digits", steps=12, name="run")
    config.logp_estimator = estimator
    config.trajectory_shrinkage = 2  # 4 steps: two canvases per completion
    run_training(config)
    history = json.loads((config.output_dir / "log_history.json").read_text())
    rewards = [row["reward"] for row in history if "reward" in row]
    assert len(rewards) == 12
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3  # measured: about 0.17 -> 0.7
    assert last > first + 0.2, rewards
    for key in ("reward/toy_rewards.py:digits", "reward_std", "completion_length",
                "clip_fraction", "kl"):
        assert key in history[0], key
    assert (config.output_dir / "reward_curve.png").stat().st_size > 0
    assert (config.output_dir / "loss_curve.png").stat().st_size > 0
    saved = json.loads((config.output_dir / "dllm.json").read_text())
    assert saved["extra"]["mode"] == "grpo" and saved["generator"]["gen_length"] == 4
    assert history[-1]["total_flos"] > 0  # counted on the rollouts' tokens (the batches hold records only)


def test_a_failing_reward_drops_samples_not_the_run(tmp_path, caplog):
    config = _config(tmp_path, "flaky", steps=2, name="flaky")
    config.num_iterations = 2  # the second step reuses the rollout: inner iterations run too
    with caplog.at_level(logging.WARNING, logger="dllm_core.rl.rewards"):
        run_training(config)
    history = json.loads((config.output_dir / "log_history.json").read_text())
    assert history[0]["reward_failures"] > 0
    assert any("left out of the update" in record.getMessage() for record in caplog.records)
    assert (config.output_dir / "model.safetensors").is_file()
