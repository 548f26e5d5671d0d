"""``dllm train --mode grpo`` on a LLaDA run: its options parse, and bad ones are one-line errors before anything loads
(here, not in tests/core: the run names a family, which a plugin provides)."""

from __future__ import annotations

import pytest

from dllm_core.cli.main import main

BASE = ["train", "--family", "llada", "--preset", "tiny", "--mode", "grpo", "--output-dir", "o"]


@pytest.mark.parametrize("argv, message", [
    (("--data", "sudoku4", "--num-generations", "1"), "--num-generations must be at least 2"),
    (("--data", "sudoku4", "--epsilon", "1.5"), "--epsilon must be in (0, 1)"),
    (("--data", "sudoku4", "--p-mask-prompt", "2"), "--p-mask-prompt must be in [0, 1]"),
    (("--data", "sudoku4", "--reward", "sudoku5"), "unknown reward 'sudoku5'"),
    (("--data", "sudoku4", "--reward", "nowhere.py:f"), "no file nowhere.py"),
    (("--data", "sudoku4+addition"), "--mode grpo needs a reward"),
    (("--data", "sudoku4", "--logp-estimator", "elbo"), "argument --logp-estimator: invalid choice: 'elbo'"),
    (("--data", "sudoku4", "--logp-estimator", "trajectory", "--trajectory-shrinkage", "0"),
     "--trajectory-shrinkage must be at least 1, got 0"),
])
def test_bad_grpo_options_are_one_line_errors(argv, message, capsys):
    assert main([*BASE, *argv]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error
