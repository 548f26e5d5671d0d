"""Helpers for the reliability tests: the ``dllm`` CLI run in-process, and a tiny training run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from dllm_core.cli.main import main

#: the smallest training run: the tiny LLaDA preset, a few sudoku rows, no progress bar
TINY_RUN = ("train", "--family", "llada", "--preset", "tiny", "--data", "sudoku4[train:16,test:0]",
            "--batch-size", "4", "--max-length", "48", "--no-progress", "--logging-steps", "1")


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def one_error(self) -> str:
        """The single ``dllm: error:`` line (asserting there is exactly one and no traceback)."""
        lines = [line for line in self.err.splitlines() if line.startswith("dllm: error: ")]
        assert len(lines) == 1 and "Traceback" not in self.err, self.err
        return lines[0]


@pytest.fixture(autouse=True, scope="module")
def _transformers_logs_through_logging():
    """transformers' own stderr handler keeps the stream of the test that first logged (closed
    later); here its records go to the root logger instead, where pytest collects them."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_default_handler()
    hf_logging.enable_propagation()
    yield
    hf_logging.disable_propagation()
    hf_logging.enable_default_handler()


@pytest.fixture
def dllm(capsys) -> Callable[..., CliResult]:
    """Run ``dllm ARGS`` in this process; returns the exit code and what it printed."""

    def run(*args: object) -> CliResult:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def train(dllm) -> Callable[..., CliResult]:
    """``dllm train`` of the tiny run into ``output`` with extra flags."""

    def run(output: Path, *flags: object) -> CliResult:
        return dllm(*TINY_RUN, "--output-dir", output, *flags)

    return run


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, bytes]]:
    """Every file under a folder and its bytes (to assert nothing changed)."""
    return _snapshot


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny LLaDA checkpoint trained for one step (shared: tests only read it)."""
    folder = tmp_path_factory.mktemp("tiny") / "run"
    assert main([*TINY_RUN, "--max-steps", "1", "--output-dir", str(folder)]) == 0
    return folder
