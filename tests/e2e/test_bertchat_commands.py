"""End to end on the tiny BERT-chat preset: train on the bundled chat set -> sample -> chat."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dllm_core.training.launch import TrainRunConfig, run_training

DLLM = [sys.executable, "-m", "dllm_core.cli.main"]
GENERATION = ("--gen-length", "8", "--steps", "8", "--block-length", "8")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("run") / "bertchat"
    run_training(TrainRunConfig(data="bertchat-qa[train:64,test:0]", output_dir=output, family="bertchat",
                                preset="tiny", max_steps=4, batch_size=8, disable_progress_bar=True))
    return output


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DLLM, *args], capture_output=True, text=True, timeout=300)


def test_checkpoint_records_the_family_and_its_mdlm_sampler(checkpoint):
    info = json.loads((checkpoint / "dllm.json").read_text())
    assert info["family"] == "bertchat" and info["generator"]["preset"] == "mdlm"
    assert json.loads((checkpoint / "config.json").read_text())["model_type"] == "modernbert"


def test_dllm_sample_answers_a_chat_question(checkpoint):
    result = _run("sample", str(checkpoint), "--chat", "--prompt", "What is 12+30?", *GENERATION)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "### completion" in result.stdout and "(nfe 8)" in result.stdout


def test_prompt_plus_generation_beyond_modernberts_8192_is_one_line_exit_2(checkpoint):
    result = _run("sample", str(checkpoint), "--prompt", "1" * 8190, *GENERATION)
    assert result.returncode == 2
    assert "prompt of 8190 tokens plus 8 generated tokens exceeds the model's context of 8192" in result.stderr
    assert "Traceback" not in result.stderr


def _read_until(fd: int, marker: bytes, timeout: float = 240) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {marker!r}; got {data[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 4096)
            assert chunk, f"process closed the terminal; got {data[-500:]!r}"
            data += chunk
    return data


def test_dllm_chat_two_turns_through_a_pseudo_terminal(checkpoint):
    controller, terminal = pty.openpty()
    process = subprocess.Popen([*DLLM, "chat", str(checkpoint), "--system", "Answer briefly.", *GENERATION],
                               stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    try:
        assert b"bertchat model, mdlm sampler" in _read_until(controller, b"you> ")
        os.write(controller, b"What is 12+30?\n")
        assert b"dllm> " in _read_until(controller, b"you> ")
        os.write(controller, b"What is 5+7?\n")  # the second turn carries the first in its prompt
        assert b"dllm> " in _read_until(controller, b"you> ")
        os.write(controller, b"/quit\n")
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
