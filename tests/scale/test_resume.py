"""Kill -9 in the middle of a run, then ``--resume``: the run goes on where it was saved."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import torch
from scale_runs import DLLM, RUN, STEPS, dllm, environment, logits_of, losses


def kill_mid_run(output: Path) -> None:
    """Start the run, saving every step, and SIGKILL it once step 2 is being saved or was saved."""
    process = subprocess.Popen([*DLLM, "train", *RUN, "--gradient-accumulation-steps", "2", "--save-steps", "1",
                                "--output-dir", str(output)], env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while process.poll() is None and time.monotonic() < deadline:
            saving = list(output.glob(".checkpoint-*.partial")) if output.is_dir() else []
            if any(int(p.name.split("-")[1].split(".")[0]) >= 2 for p in saving) or (output / "checkpoint-3").exists():
                break
            time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (output / "dllm.json").exists(), "the run finished before it was killed"


def test_killed_run_resumes_at_the_saved_step_with_the_same_data(reference, tmp_path):
    output = tmp_path / "run"
    kill_mid_run(output)
    complete = sorted(int(p.name.split("-")[1]) for p in output.glob("checkpoint-*"))
    assert complete, "no checkpoint was complete when the run was killed"
    for step in complete:  # no half-written checkpoint-N: each has the Trainer's state and the weights
        folder = output / f"checkpoint-{step}"
        assert {"trainer_state.json", "model.safetensors", "optimizer.pt", "rng_state.pth"} <= {
            p.name for p in folder.iterdir()}
    saved = complete[-1]
    result = dllm("train", *RUN, "--gradient-accumulation-steps", "2", "--save-steps", "1", "--resume",
                  "--output-dir", str(output))
    assert "starting fresh" not in result.stdout
    history = json.loads((output / "log_history.json").read_text())
    logged = [row["step"] for row in history if "loss" in row]
    assert logged == list(range(1, STEPS + 1))  # the saved history, then the steps after `saved`
    assert saved < STEPS
    # same data order and noise after the resume: the curve and the weights of an unbroken run
    assert losses(output) == losses(reference)
    torch.testing.assert_close(logits_of(output), logits_of(reference), rtol=0, atol=0)
    assert not [p.name for p in output.iterdir() if p.name.startswith(".")]
