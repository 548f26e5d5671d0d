"""``dllm train --weighting`` is checked against the chosen objective before any work."""

from __future__ import annotations

from dllm_core.cli.main import main


def test_unknown_weighting_stops_dllm_train_before_anything_is_written(tmp_path, capsys):
    output = tmp_path / "out"
    code = main(["train", "--family", "llada", "--preset", "tiny", "--data", "sudoku4[train:8]",
                 "--output-dir", str(output), "--weighting", "elbo"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "Known: cart, schedule, uniform." in error
    assert not output.exists()
