"""End to end on the tiny BERT-chat preset: train on the bundled chat set -> sample -> chat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.terminal import TerminalSession

from dllm_core.training.run import run_training
from dllm_core.training.run_config import TrainRunConfig

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


def test_dllm_chat_two_turns_through_a_pseudo_terminal(checkpoint):
    command = [*DLLM, "chat", str(checkpoint), "--system", "Answer briefly.", *GENERATION]
    with TerminalSession(command) as chat:
        assert b"bertchat model, mdlm sampler" in chat.expect(b"you> ")
        chat.send("What is 12+30?")
        assert b"dllm> " in chat.expect(b"you> ")
        chat.send("What is 5+7?")  # the second turn carries the first in its prompt
        assert b"dllm> " in chat.expect(b"you> ")
        chat.send("/quit")
        assert chat.wait() == 0
