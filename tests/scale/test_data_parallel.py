"""DDP, DeepSpeed ZeRO-2/3 and FSDP2 with 2 CPU processes (gloo) against one process.

Two processes of 4 rows per micro-batch make the global batch of one process accumulating two
micro-batches of 4; DiffusionTrainer seeds each micro-batch's noise by its global index, so all
of these runs compute the same thing: the same loss curve, and the same weights at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from scale_runs import RUN, STEPS, dllm, logits_of, losses

pytest.importorskip("accelerate")


def train_two_processes(output: Path, *options: str) -> str:
    result = dllm("train", *RUN, "--num-processes", "2", *options, "--output-dir", str(output))
    return result.stdout


def assert_two_processes(output: Path, stdout: str, distributed: str) -> None:
    """The run really had 2 processes and the asked sharding (accelerate can silently fall back)."""
    assert "processes: 2" in stdout
    extra = json.loads((output / "dllm.json").read_text())["extra"]
    assert (extra["processes"], extra["distributed"]) == (2, distributed)


def test_ddp_two_processes_give_the_loss_curve_of_one(reference, tmp_path):
    output = tmp_path / "ddp"
    stdout = train_two_processes(output, "--accelerate-config", "ddp")
    assert_two_processes(output, stdout, "MULTI_CPU")
    assert len(losses(reference)) == STEPS
    assert losses(output) == pytest.approx(losses(reference), rel=1e-4)
    torch.testing.assert_close(logits_of(output), logits_of(reference), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("config, distributed", [("zero2", "DEEPSPEED"), ("zero3", "DEEPSPEED"), ("fsdp2", "FSDP")])
def test_sharded_training_saves_and_reloads_to_the_same_logits(config, distributed, reference, tmp_path):
    if config.startswith("zero"):
        pytest.importorskip("deepspeed", reason="the deepspeed extra is not installed")
    output = tmp_path / config
    stdout = train_two_processes(output, "--accelerate-config", config, "--save-steps", str(STEPS))
    assert_two_processes(output, stdout, distributed)
    assert losses(output) == pytest.approx(losses(reference), rel=1e-4)
    final = logits_of(output)
    # the Trainer's own checkpoint at the last step (gathered from the shards) holds the same weights
    torch.testing.assert_close(logits_of(output / f"checkpoint-{STEPS}"), final, rtol=0, atol=0)
    torch.testing.assert_close(final, logits_of(reference), rtol=1e-4, atol=1e-4)
    assert not [p.name for p in output.iterdir() if p.name.startswith(".")]
