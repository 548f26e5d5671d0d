"""The main job's plumbing end to end, on a few steps (the solve rate itself is a benchmark)."""

from __future__ import annotations

import json

from dllm_llada.demo import DemoConfig, run_demo


def test_demo_runs_every_stage_and_leaves_its_files(tmp_path, capsys):
    output = tmp_path / "demo"
    config = DemoConfig(output_dir=output, train_puzzles=256, max_steps=4, batch_size=8,
                        eval_puzzles=4, held_out_per_count=1)
    solve_rate = run_demo(config, say=lambda stage, text: print(f"== {stage}"))
    printed = capsys.readouterr().out
    assert f"solve rate: {100 * solve_rate:.1f}%" in printed
    for stage in ("1/5", "2/5", "3/5", "4/5", "5/5"):
        assert f"== {stage}" in printed
    assert printed.count("step ") >= 20  # one frame per denoising step of the shown puzzle
    names = {p.name for p in output.iterdir()}
    assert {"dllm.json", "model.safetensors", "loss_curve.png", "demo_summary.md", "demo_results.json",
            "eval"} <= names
    results = json.loads((output / "demo_results.json").read_text())
    assert results["solve_rate"] == solve_rate
    plain, *fast = results["settings"]
    assert plain["nfe"] == 20 and plain["tokens_per_forward"] == 1.0  # plain: one token per step
    assert all(0 < s["nfe"] <= 20 and s["tokens_per_forward"] >= 1.0 for s in fast)  # threshold rules: several
    assert all(sorted(map(int, s["by_hints"])) == list(range(4, 16)) for s in results["settings"])  # 1..12 blanks
    assert "| 15 |" in (output / "demo_summary.md").read_text()  # the per-hint-count table

    again = run_demo(config, say=lambda stage, text: None)  # a re-run starts clean, deterministically
    assert again == solve_rate
    assert "removing the previous demo run" in capsys.readouterr().out
