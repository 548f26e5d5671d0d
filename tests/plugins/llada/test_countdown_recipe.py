"""``benchmarks/countdown_recipe.py``: its run settings, its learning-curve plumbing, and a short
run of the recipe that learns the answer layout."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import _quality_common as quality
import countdown_recipe as recipe

from dllm_core.data.spec import parse_dataset_spec


def test_the_run_is_the_demos_on_the_recipes_data_and_budget(tmp_path):
    base = quality.demo_recipe()
    run = recipe.recipe_run(base, recipe.CountdownRecipe(steps=300, train_puzzles=1000, every=100), tmp_path)
    [part] = parse_dataset_spec(run.data).parts
    assert (part.source, part.train, part.test, part.seed) == ("countdown", 1000, 0, base.seed)
    assert {k: int(v) for k, v in part.extra.items()} == dict(recipe.SETTING.options)
    assert (run.max_steps, run.save_steps, run.output_dir) == (300, 100, tmp_path)
    assert (run.batch_size, run.learning_rate, run.lr_scheduler_type, run.preset) == (
        base.batch_size, base.learning_rate, base.lr_scheduler_type, base.preset)


def test_quality_trains_its_countdown_row_with_the_recipe_unless_steps_are_given():
    import quality as script

    base = quality.demo_recipe()
    assert script.TASKS["countdown"] is recipe.SETTING
    options = script.parse_options([], base)
    assert options.budgets == {"countdown": (recipe.RECIPE.steps, recipe.RECIPE.train_puzzles)}
    assert options.steps == base.max_steps  # sudoku keeps the demo's budget
    assert script.parse_options(["--steps", "10"], base).budgets == {}
    assert script.parse_options(["--smoke"], base).budgets == {}
    assert script.parse_options(["--tasks", "sudoku4"], base).budgets == {}


def test_answers_are_profiled_stage_by_stage():
    prompt = "15 44 79 -> 50"
    stages = [recipe.answer_profile(prompt, answer, False) for answer in (
        "hello", "044-015=029,079-029=051", "044-014=030,080-030=050", "044-015=028,079-028=050")]
    assert [[stage[key] for key in recipe.PROFILE[:4]] for stage in stages] == [
        [False, False, False, False], [True, False, False, False], [True, True, False, False],
        [True, True, True, False]]
    assert recipe.answer_profile(prompt, "044-015=029,079-029=050", True) == dict.fromkeys(recipe.PROFILE, True)


def test_checkpoints_are_taken_by_step_and_made_loadable(tmp_path):
    final = tmp_path / "run"
    for step in (1000, 500, 1500):
        (final / f"checkpoint-{step}").mkdir(parents=True)
        (final / f"checkpoint-{step}" / "config.json").write_text("{\"own\": true}")
    (final / "dllm.json").write_text("{}")
    (final / "config.json").write_text("{\"final\": true}")
    (final / "model.safetensors").write_bytes(b"weights")
    assert [step for step, _ in recipe.step_checkpoints(final)] == [500, 1000, 1500]
    checkpoint = final / "checkpoint-500"
    recipe.make_loadable(checkpoint, final)
    assert (checkpoint / "dllm.json").is_file() and not (checkpoint / "model.safetensors").exists()
    assert (checkpoint / "config.json").read_text() == "{\"own\": true}"  # its own config is kept


def test_the_curve_is_tabled_side_by_side_and_drawn(tmp_path):
    points = [recipe.CurvePoint(quality.MDM, 1000, 4.5, {"generated": 0.25, "cd3": 0.125}),
              recipe.CurvePoint(quality.AR, 1000, 3.0, {"generated": 0.5, "cd3": 0.0}),
              recipe.CurvePoint(quality.MDM, 2000, 9.0, {"generated": 0.75, "cd3": 0.625})]
    table = recipe.curve_table(points).splitlines()
    assert table[1].split() == ["1000", "25.0%", "50.0%", "12.5%", "0.0%", "4.5", "3.0"]
    assert table[2].split() == ["2000", "75.0%", "-", "62.5%", "-", "9.0", "-"]
    recipe.write_curve_chart(points, tmp_path / "curve.png", "title")
    assert (tmp_path / "curve.png").stat().st_size > 0


def test_the_chart_of_one_model_has_no_legend_entries_for_the_other(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    legends = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda figure, *args, **kwargs: (
        legends.append([text.get_text() for text in figure.axes[0].get_legend().get_texts()]),
        save(figure, *args, **kwargs)))
    points = [recipe.CurvePoint(quality.MDM, step, 1.0, {"generated": 0.5, "cd3": 0.25}) for step in (500, 1000)]
    recipe.write_curve_chart(points, tmp_path / "curve.png", "title")
    mdm = quality.MDM.split(" (")[0]
    assert legends == [[f"{mdm}: generated", f"{mdm}: cd3"]]


def test_a_short_run_of_the_recipe_learns_the_answer_layout(tmp_path):
    """After 150 steps the MDM writes most held-out answers as two equations of three-digit
    numbers; an untrained model writes that layout by chance with probability below 1e-20 (23
    tokens over a 105-token vocabulary, most of them fixed). Ending in the prompt's target comes
    a few hundred steps later (all of them at 500 steps in the benchmark's run)."""
    import torch

    torch.set_num_threads(1)
    short = recipe.CountdownRecipe(steps=150, train_puzzles=4000, every=0)
    run = recipe.recipe_run(quality.demo_recipe(), short, tmp_path / "mdm")
    length = recipe.recipe_answer_tokens(run, short)
    run.generator_defaults = quality.plain_generation(length)
    quality.train_mdm(run)
    problems = recipe.SETTING.build().generate(40, quality.EVAL_SEED, "test")
    prompts = [p["prompt"] for p in problems]
    answers = quality.mdm_answers(run.output_dir, prompts, length, batch_size=40)
    layout = [re.fullmatch(r"(\d{3}[-+*/]\d{3}=\d{3}),(\d{3}[-+*/]\d{3}=\d{3})", a) is not None for a in answers]
    assert sum(layout) >= 0.6 * len(problems), answers
