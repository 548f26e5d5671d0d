"""The pieces of ``benchmarks/quality.py`` and ``sudoku9_gpu.py`` that need no training."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import _quality_common as quality

from dllm_core.data.spec import parse_dataset_spec
from dllm_llada.demo import DemoConfig
from dllm_core.errors import DllmError

COUNTDOWN3 = quality.TaskSetting("countdown-3", "countdown", {"min_numbers": 3, "max_numbers": 3})


def test_the_recipe_is_the_demos_and_nothing_is_trained(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = quality.demo_recipe()
    demo = DemoConfig()
    assert (recipe.max_steps, recipe.batch_size, recipe.learning_rate) == (demo.max_steps, demo.batch_size,
                                                                           demo.learning_rate)
    assert (recipe.family, recipe.preset) == ("llada", "tiny")
    assert parse_dataset_spec(recipe.data).parts[0].train == demo.train_puzzles
    assert not any(tmp_path.iterdir())


def test_task_settings_make_specs_of_their_options():
    [part] = parse_dataset_spec(COUNTDOWN3.spec(train=100, seed=3)).parts
    assert (part.source, part.train, part.test, part.seed) == ("countdown", 100, 0, 3)
    assert dict(part.extra) == {"min_numbers": "3", "max_numbers": "3"}
    assert {len(r["prompt"].split("->")[0].split()) for r in COUNTDOWN3.build().generate(50)} == {3}


def test_external_test_files_become_task_records(tmp_path):
    path = tmp_path / "cd3.jsonl"
    rows = [{"input": "15,44,79,50", "output": "44-15=29,79-29=50"}, {"input": "2,3,5,30", "output": "2*3=6,6*5=30"}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + "\n")
    eval_set = quality.read_external(COUNTDOWN3, path, limit=1)
    assert eval_set.name == "cd3.jsonl" and eval_set.records == [{"prompt": "15 44 79 -> 50",
                                                                  "answer": "44-15=29,79-29=50"}]
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DllmError, match="no rows"):
        quality.read_external(COUNTDOWN3, tmp_path / "empty.jsonl")


def test_scores_are_checked_by_the_task_and_tabled_side_by_side(tmp_path):
    task = COUNTDOWN3.build()
    eval_set = quality.EvalSet("generated", [{"prompt": "2 3 5 -> 30", "answer": "2*3=6,6*5=30"}] * 2)
    mdm = quality.score(task, COUNTDOWN3, eval_set, quality.MDM, ["3*2=6,5*6=30", "2+3=5"], 1.0)
    ar = quality.score(task, COUNTDOWN3, eval_set, quality.AR, ["", "2*3=6,6*5=30"], 1.0)
    assert (mdm.solved, ar.solved, mdm.rate) == (1, 1, 0.5)
    table = quality.score_table([mdm, ar])
    assert "countdown-3" in table and "50.0%" in table and "1.00" in table
    quality.write_chart([mdm, ar], tmp_path / "chart.png", "title")
    assert (tmp_path / "chart.png").stat().st_size > 0


def test_left_padding_keeps_rows_at_the_right_edge():
    ids, mask = quality.left_padded([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]


# -- sudoku per hint count, pooled test files, the fast sampling curve -------------------------
SUDOKU4 = quality.TaskSetting("sudoku4", "sudoku4", by_hints=True)


def test_sudoku_sets_are_scored_per_hint_count_and_files_together():
    task = SUDOKU4.build()
    records = task.generate(24, seed=5, split="test")  # 2 puzzles of each blank count
    eval_set = quality.EvalSet("generated", records)
    answers = [r["answer"] if i % 3 else "" for i, r in enumerate(records)]  # every third left blank
    rows = quality.hint_scores(task, SUDOKU4, eval_set, quality.MDM, answers)
    assert [r.eval_set for r in rows] == [f"generated, {h} hints" for h in range(4, 16)]
    assert sum(r.count for r in rows) == 24 and sum(r.solved for r in rows) == 16
    for row in rows:
        hints = int(row.eval_set.split(", ")[1].split()[0])
        expected = [i % 3 != 0 for i, r in enumerate(records) if task.hints(r["prompt"]) == hints]
        assert (row.solved, row.count) == (sum(expected), len(expected))
    one_count = quality.EvalSet("k10", [r for r in records if task.hints(r["prompt"]) == 10])
    assert quality.hint_scores(task, SUDOKU4, one_count, quality.MDM, ["x"] * len(one_count.records)) == []
    files = [quality.Score("sudoku4", f"f{k}", quality.MDM, k, 10, 1.0) for k in (3, 7)]
    assert quality.pooled(files, "2 files") == quality.Score("sudoku4", "2 files", quality.MDM, 10, 20, 2.0)


def test_the_curve_separates_the_two_causes_and_picks_the_fastest_good_setting(tmp_path):
    import _sampling_curve as curve

    base = quality.plain_generation(20)
    settings = curve.curve_settings(base)
    plain = [s for s in settings if s[0] == "plain"]
    assert plain == [("plain", None, "", {"preset": "llada", "params": base})]
    one_token = [s[3]["params"] for s in settings if s[0] == "one token/step"]
    assert {p.get("use_cache") for p in one_token} == {"prefix", "dual"}  # staleness alone: no rule
    assert all(not {"threshold", "factor", "entropy_bound"} & set(p) for p in one_token)
    uncached = [s for s in settings if s[0] in ("threshold", "factor", "entropy_bound") and not s[2]]
    assert {s[0] for s in uncached} == {"threshold", "factor", "entropy_bound"}  # parallel commits alone
    assert all("use_cache" not in s[3]["params"] for s in uncached)
    assert ("threshold", 0.9, "dual cache") in {s[:3] for s in settings}  # Fast-dLLM's default
    assert len(curve.curve_settings(base, quick=True)) < len(settings)

    def point(rule, value, solved, speed):
        return curve.CurvePoint(rule, value, "", solved, speed, 1.0, 1.0)

    points = [point("plain", None, 0.99, 1.0), point("threshold", 0.99, 0.985, 4.0),
              point("threshold", 0.9, 0.9, 9.0), point("factor", 0.05, 0.99, 2.5), point("entropy_bound", 0.1, 0.981, 5.0)]
    assert curve.best_fast(points) is points[4]  # fastest within a point at >= 3 tokens/forward
    assert curve.best_fast(points, within=0.0) is None  # factor 0.05 solves as many, but too slowly
    assert curve.best_fast([*points, point("factor", 0.2, 0.99, 3.5)], within=0.0).value == 0.2
    assert curve.best_fast(points[:3] + points[3:4], within=0.001) is None
    assert "threshold 0.99" in curve.curve_table(points)
    curve.write_curve_chart(points, tmp_path / "curve.png", "title")
    assert (tmp_path / "curve.png").stat().st_size > 0


def test_checkpoint_and_test_file_options_are_checked(tmp_path, capsys):
    import quality as script

    recipe = quality.demo_recipe()
    for name in ("sudoku_4x4_4.jsonl", "sudoku_4x4_12.jsonl"):
        (tmp_path / name).write_text("")
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    options = script.parse_options(["--tasks", "sudoku4", "--test-file", f"sudoku4={tmp_path}/sudoku_4x4_*.jsonl",
                                    "--checkpoint", f"sudoku4={tmp_path / 'ckpt'}"], recipe)
    assert options.test_files == {"sudoku4": [tmp_path / "sudoku_4x4_12.jsonl", tmp_path / "sudoku_4x4_4.jsonl"]}
    assert options.checkpoints == {"sudoku4": tmp_path / "ckpt"} and options.curve
    for argv, message in ((["--test-file", f"sudoku4={tmp_path}/nothing_*.jsonl"], "no file matches"),
                          (["--checkpoint", f"sudoku4={tmp_path}"], "not a checkpoint folder"),
                          (["--checkpoint", "sudoku9=x"], "--checkpoint takes TASK=PATH")):
        with pytest.raises(SystemExit) as exit_info:
            script.parse_options(["--tasks", "sudoku4", *argv], recipe)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_the_sudoku_twin_trains_on_the_demos_puzzles_and_is_scored_on_every_count_alike():
    setting = quality.demo_sudoku4()
    [demo_part] = parse_dataset_spec(quality.demo_recipe().data).parts
    [part] = parse_dataset_spec(setting.spec(demo_part.train, demo_part.seed)).parts
    assert dict(part.extra) == dict(demo_part.extra) and part.train == demo_part.train
    weighted, held_out = setting.build(), setting.build(held_out=True)
    assert weighted.blank_quotas(78) == {blanks: blanks for blanks in range(1, 13)}  # k blanks weigh k
    assert set(held_out.blank_quotas(120).values()) == {10}
