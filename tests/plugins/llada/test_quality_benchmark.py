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
