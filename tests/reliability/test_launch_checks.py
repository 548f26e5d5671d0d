"""Issue 25: a multi-process ``dllm train`` checks names and arguments before any worker starts."""

from __future__ import annotations

import subprocess

import pytest

from dllm_core.training import launcher

TWO_PROCESSES = ("--num-processes", "2", "--accelerate-config", "cpu", "--max-steps", "1")


@pytest.fixture
def launches(monkeypatch) -> list[list[str]]:
    """The command lines the launcher would run (nothing is started)."""
    started: list[list[str]] = []

    def fake_run(command, **_):
        started.append(list(command))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(launcher.subprocess, "run", fake_run)
    return started


@pytest.mark.parametrize("flags, message", [
    (("--family", "lladaa"), "unknown family 'lladaa'. Did you mean 'llada'?"),
    (("--objective", "maskedd"), "unknown objective 'maskedd'. Did you mean 'masked-diffusion'?"),
    (("--data", "sudok4[train:8]"), "unknown task 'sudok4'. Did you mean 'sudoku4'?"),
    (("--data", "sudoku4[train:8,blanks:99]"), "sudoku4: blanks must be between 1 and 12, got 99"),
    (("--batch-size", "0"), "--batch-size must be at least 1, got 0"),
    (("--weighting", "unifrom"), "unknown --weighting for objective masked-diffusion 'unifrom'"),
], ids=["family", "objective", "task", "task-option", "batch-size", "weighting"])
def test_a_mistake_answers_in_one_line_and_starts_no_worker(train, tmp_path, launches, flags, message):
    output = tmp_path / "run"
    result = train(output, *TWO_PROCESSES, *flags)
    assert result.code == 2 and message in result.one_error
    assert "ChildFailedError" not in result.err and "launching" not in result.err
    assert launches == [] and not output.exists()


def test_a_good_run_reaches_the_launcher_with_its_processes(train, tmp_path, launches):
    """The same fake launcher records a launch when the run is right (so the test above can fail)."""
    result = train(tmp_path / "run", *TWO_PROCESSES)
    assert result.code == 0 and "dllm: launching 2 processes with accelerate (cpu.yaml)" in result.err
    [command] = launches
    assert command[command.index("--num_processes") + 1] == "2"
    assert command[-3:-1] == ["-m", "dllm_core.training.worker"]


def test_a_resume_that_cannot_continue_is_refused_before_launching(train, tmp_path, launches):
    run = tmp_path / "run"
    assert train(run, "--max-steps", "1", "--save-steps", "1").code == 0
    changed = train(run, *TWO_PROCESSES, "--save-steps", "1", "--resume", "--seed", "3")
    assert changed.code == 2 and "seed: 42 then, 3 now" in changed.one_error
    (run / "checkpoint-1" / "model.safetensors").write_bytes(b"garbage")
    damaged = train(run, *TWO_PROCESSES, "--save-steps", "1", "--resume")
    assert damaged.code == 2 and f"--resume: {run / 'checkpoint-1'} is damaged" in damaged.one_error
    assert launches == []
