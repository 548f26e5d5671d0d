"""Countdown-3: the recipe ``quality.py`` trains its countdown row with, and its learning curve.

Run from the repository root (CPU; ``--threads 1`` is much faster than two threads on a busy
machine):

    HF_HUB_OFFLINE=1 python benchmarks/countdown_recipe.py --threads 1 \\
        --test-file ../shared/data/dream-eval/cd3_test.jsonl
    HF_HUB_OFFLINE=1 python benchmarks/countdown_recipe.py --threads 2 --models mdm --steps 40000 \\
        --every 5000 --output-dir runs/countdown_mdm40k \\
        --test-file ../shared/data/dream-eval/cd3_test.jsonl
    HF_HUB_OFFLINE=1 python benchmarks/countdown_recipe.py --smoke

Both models of ``quality.py`` (the tiny LLaDA trained by masked diffusion through
``run_training``, and its ``LlamaForCausalLM`` twin trained by ``transformers.Trainer`` with the
same ``TrainingArguments``) train on the recipe's data; every ``--every`` optimizer steps each
keeps a checkpoint, and each checkpoint is scored by the task's checker on generated held-out
problems and on the first ``--eval-count`` rows of ``--test-file`` (Dream's ``cd3_test.jsonl``;
scoring only, never trained on). It prints the learning curve (solve rate against optimizer
steps and training minutes), and how far the answers get on the way to a solution (well-formed,
ending in the target, starting from given numbers, exact arithmetic: :func:`answer_profile`), and
writes ``countdown_curve.json`` and ``countdown_curve.png``.

The recipe (:data:`SETTING`, :data:`RECIPE`) differs from the demo's in the data only, and in
the budget:

* the distribution of Dream's test set: 3 numbers from 1..99 and a target of at most 99
  (``max_final``); the demo's generator also makes targets up to 999, half of its problems;
* a fixed-width answer (``width``): every number of the reference chain written with three
  digits, ``"044-015=029,079-029=050"``. The checker reads ``029`` as 29, so the answers stay
  valid countdown answers; the layout puts digit ``k`` of every operand and result at the same
  place in every answer, and the target's digits, which the prompt gives, at the answer's end;
* more generated problems (50,000) and 2000 steps (the demo's sudoku has 1500), the same batch
  (32), learning rate (2e-3), cosine schedule with warmup 0.2 and seed.

Measured on the 2-core CPU (README, "quality"): the format takes the AR twin from 6.5% to 56.5%
of ``cd3_test.jsonl`` at 2000 steps; the MDM stays at 0% there. With longer schedules of its own
the MDM gets there late: 39.5% after a 20,000-step run, 63.0% after 35,000 and 63.5% after
40,000 steps of a 40,000-step run (about 52 minutes on two threads at 0.078 s a step), so 60%
takes about 2.3 times the issue's 20 minutes, and at the same budget the AR twin stays ahead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _quality_common import (  # the helper module sits beside this script
    AR,
    EVAL_SEED,
    GENERATED,
    MDM,
    EvalSet,
    TaskSetting,
    Trained,
    answer_tokens,
    ar_answers,
    demo_recipe,
    mdm_answers,
    plain_generation,
    read_external,
    run_tokenizer,
    train_ar,
    train_mdm,
)

from dllm_core.data.tasks.countdown import operate, parse_prompt
from dllm_core.model_config import preset_config
from dllm_core.training.run import resolve_run_family
from dllm_core.training.run_config import TrainRunConfig

#: countdown with exactly 3 numbers, Dream's target range, three-digit answers
SETTING = TaskSetting("countdown-3", "countdown",
                      {"min_numbers": 3, "max_numbers": 3, "max_final": 99, "width": 3})


@dataclass(frozen=True)
class CountdownRecipe:
    """The budget of the countdown recipe; the rest is the demo's (``quality.demo_recipe``)."""

    steps: int = 2000  # optimizer steps of each model
    train_puzzles: int = 50_000  # generated training problems
    every: int = 500  # steps between the checkpoints of the learning curve


RECIPE = CountdownRecipe()
SMOKE = CountdownRecipe(steps=4, train_puzzles=256, every=2)
EVAL_BATCH = 100
SAMPLES = 5  # answers of each checkpoint kept in the JSON, per evaluation set


@dataclass
class CurvePoint:
    """Solve rates of one model's checkpoint after ``step`` optimizer steps."""

    model: str
    step: int
    minutes: float  # training wall time up to this step (the run's time, prorated by steps)
    rates: dict[str, float]  # evaluation set -> solve rate
    profiles: dict[str, dict[str, float]] = field(default_factory=dict)  # set -> answer_profile shares
    samples: dict[str, list[str]] = field(default_factory=dict)  # set -> its first answers


#: one equation of an answer, ``a op b = c`` (numbers with any leading zeros)
_EQUATION = re.compile(r"(\d+)([-+*/])(\d+)=(\d+)")
PROFILE = ("layout", "target", "given", "exact", "solved")


def answer_profile(prompt: str, answer: str, solved: bool) -> dict[str, bool]:
    """How far ``answer`` gets towards a solution of ``prompt``, each step including the ones
    before: ``layout``, comma-separated equations ``a op b = c``; ``target``, the last result is
    the target; ``given``, the first equation's operands are given numbers; ``exact``, every
    equation is exact arithmetic. ``solved`` is the checker's verdict (it also accepts chains
    that leave a number unused)."""
    numbers, target = parse_prompt(prompt)
    found = [_EQUATION.fullmatch(part) for part in "".join(answer.split()).split(",")]
    if not all(found):
        return {**dict.fromkeys(PROFILE, False), "solved": solved}
    equations = [(int(m[1]), m[2], int(m[3]), int(m[4])) for m in found]
    first_a, _, first_b, _ = equations[0]
    reached = equations[-1][3] == target
    given = reached and not Counter((first_a, first_b)) - Counter(numbers)
    exact = given and all(operate(a, op, b) == c for a, op, b, c in equations)
    return {"layout": True, "target": reached, "given": given, "exact": exact, "solved": solved}


def recipe_run(base: TrainRunConfig, recipe: CountdownRecipe, output_dir: Path) -> TrainRunConfig:
    """``base`` (the demo's run) on the recipe's data and budget, keeping ``checkpoint-N`` folders
    every ``recipe.every`` steps when ``every`` is set."""
    seed = base.seed
    return dataclasses.replace(base, data=SETTING.spec(recipe.train_puzzles, seed), max_steps=recipe.steps,
                               output_dir=output_dir, disable_progress_bar=True,
                               save_steps=recipe.every or None, logging_steps=max(1, min(100, recipe.steps // 10)))


def recipe_answer_tokens(run: TrainRunConfig, recipe: CountdownRecipe) -> int:
    """Tokens of the longest training answer plus its end of text: the answer length sampled."""
    task = SETTING.build()
    return answer_tokens(run_tokenizer(run), task.generate(recipe.train_puzzles, run.seed, "train"))


def step_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """The ``checkpoint-N`` folders of a run, by step."""
    found = [(int(path.name.split("-")[1]), path) for path in output_dir.glob("checkpoint-*")]
    return sorted(found)


def make_loadable(checkpoint: Path, final: Path) -> None:
    """Give a Trainer ``checkpoint-N`` (weights and config only) the final checkpoint's tokenizer
    and ``dllm.json``, so the ``InferenceSession`` loads it like the final one."""
    for source in final.iterdir():
        if source.is_file() and source.suffix in (".json", ".jinja") and not (checkpoint / source.name).exists():
            shutil.copy(source, checkpoint / source.name)


def curve_point(model: str, step: int, minutes: float, eval_sets: Sequence[EvalSet],
                answer: Callable[[list[str]], list[str]]) -> CurvePoint:
    """Score one checkpoint, whose answers to a list of prompts ``answer`` gives, on each set."""
    task = SETTING.build()
    point = CurvePoint(model, step, minutes, {})
    for eval_set in eval_sets:
        prompts = [r["prompt"] for r in eval_set.records]
        answers = answer(prompts)
        solved = [task.check(prompt, text) for prompt, text in zip(prompts, answers, strict=True)]
        rows = [answer_profile(*row) for row in zip(prompts, answers, solved)]
        point.rates[eval_set.name] = sum(solved) / len(solved)
        point.profiles[eval_set.name] = {key: sum(row[key] for row in rows) / len(rows) for key in PROFILE}
        point.samples[eval_set.name] = answers[:SAMPLES]
    return point


def mdm_curve(run: TrainRunConfig, eval_sets: Sequence[EvalSet], length: int) -> tuple[Trained, list[CurvePoint]]:
    """Train the MDM and score each of its checkpoints."""
    trained = train_mdm(run)
    points = []
    for step, checkpoint in step_checkpoints(run.output_dir):
        make_loadable(checkpoint, run.output_dir)
        points.append(curve_point(MDM, step, trained.train_seconds * step / run.max_steps / 60, eval_sets,
                                  lambda prompts: mdm_answers(checkpoint, prompts, length, EVAL_BATCH)))
    return trained, points


def ar_curve(run: TrainRunConfig, eval_sets: Sequence[EvalSet], length: int) -> tuple[Trained, list[CurvePoint]]:
    """Train the AR twin of the MDM's shape and score each of its checkpoints."""
    from transformers import LlamaForCausalLM

    mdm_config = preset_config(resolve_run_family(run), run.preset, run_tokenizer(run))
    _, tokenizer, trained = train_ar(run, mdm_config)
    points = []
    for step, checkpoint in step_checkpoints(run.output_dir):
        model = LlamaForCausalLM.from_pretrained(checkpoint, use_safetensors=True).eval()
        points.append(curve_point(AR, step, trained.train_seconds * step / run.max_steps / 60, eval_sets,
                                  lambda prompts: ar_answers(model, tokenizer, prompts, length, EVAL_BATCH)))
    return trained, points


def profile_table(points: Sequence[CurvePoint]) -> str:
    """For each model, step and set: the share of answers reaching each stage of :func:`answer_profile`."""
    lines = [f"{'model':<5} {'step':>6} {'eval set':<16} " + " ".join(f"{key:>7}" for key in PROFILE)]
    for p in sorted(points, key=lambda p: (p.model != MDM, p.step)):
        for eval_set, shares in p.profiles.items():
            lines.append(f"{p.model.split(' ')[0]:<5} {p.step:>6} {eval_set[:16]:<16} "
                         + " ".join(f"{100 * shares[key]:>6.1f}%" for key in PROFILE))
    return "\n".join(lines)


def curve_table(points: Sequence[CurvePoint]) -> str:
    """One row per step: both models' solve rates on each evaluation set, and their minutes."""
    sets = list(dict.fromkeys(name for p in points for name in p.rates))
    by_step: dict[int, dict[str, CurvePoint]] = {}
    for p in points:
        by_step.setdefault(p.step, {})[p.model] = p
    header = f"{'step':>6} " + " ".join(f"{'MDM ' + s[:14]:>19} {'AR ' + s[:14]:>18}" for s in sets)
    lines = [header + f" {'MDM min':>8} {'AR min':>7}"]
    for step, pair in sorted(by_step.items()):
        cells = " ".join(f"{_rate(pair.get(MDM), s):>19} {_rate(pair.get(AR), s):>18}" for s in sets)
        lines.append(f"{step:>6} {cells} {_minutes(pair.get(MDM)):>8} {_minutes(pair.get(AR)):>7}")
    return "\n".join(lines)


def _rate(point: CurvePoint | None, eval_set: str) -> str:
    return f"{100 * point.rates[eval_set]:.1f}%" if point else "-"


def _minutes(point: CurvePoint | None) -> str:
    return f"{point.minutes:.1f}" if point else "-"


def write_curve_chart(points: Sequence[CurvePoint], path: Path, title: str) -> None:
    """Solve rate (percent) against optimizer steps: one line per model and evaluation set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.0, 4.5))
    sets = list(dict.fromkeys(name for p in points for name in p.rates))
    for model, color in ((MDM, "tab:blue"), (AR, "tab:orange")):
        mine = sorted((p for p in points if p.model == model), key=lambda p: p.step)
        if not mine:
            continue  # a model this run did not train gets no empty legend entries
        for eval_set, style in zip(sets, ("--", "-", ":")):
            axes.plot([p.step for p in mine], [100 * p.rates[eval_set] for p in mine], style, color=color,
                      marker="o", label=f"{model.split(' (')[0]}: {eval_set}")
    axes.set_xlabel("optimizer steps (batch 32)")
    axes.set_ylabel("solved (%)")
    axes.set_ylim(0, 100)
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=RECIPE.steps, help="optimizer steps of each model")
    parser.add_argument("--every", type=int, default=RECIPE.every, help="steps between scored checkpoints")
    parser.add_argument("--train-puzzles", type=int, default=RECIPE.train_puzzles)
    parser.add_argument("--eval-count", type=int, default=200, help="problems per evaluation set")
    parser.add_argument("--test-file", type=Path, action="append", default=[],
                        help="an external {input, output} JSONL countdown-3 test set (repeatable)")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/countdown_recipe"))
    parser.add_argument("--threads", type=int, help="torch CPU threads (on a busy machine 1 is faster)")
    parser.add_argument("--models", choices=("both", "mdm", "ar"), default="both",
                        help="train both models, or one (a longer curve of one model)")
    parser.add_argument("--smoke", action="store_true", help="a quick wiring check: 4 steps, 8 problems per set")
    args = parser.parse_args(argv)
    if min(args.steps, args.every, args.train_puzzles, args.eval_count) < 1:
        parser.error("--steps, --every, --train-puzzles and --eval-count must be positive")
    return args


def main(argv: list[str] | None = None) -> list[CurvePoint]:
    args = parse_args(argv)
    recipe = CountdownRecipe(args.steps, args.train_puzzles, args.every)
    eval_count = args.eval_count
    if args.smoke:
        recipe, eval_count = SMOKE, 8
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    base = demo_recipe()
    eval_sets = [EvalSet(GENERATED, SETTING.build().generate(eval_count, EVAL_SEED, "test")),
                 *(read_external(SETTING, path, eval_count) for path in args.test_file)]
    mdm_run = recipe_run(base, recipe, args.output_dir / "mdm")
    length = recipe_answer_tokens(mdm_run, recipe)
    mdm_run.generator_defaults = plain_generation(length)
    runs = {MDM: (mdm_run, mdm_curve), AR: (dataclasses.replace(mdm_run, output_dir=args.output_dir / "ar"), ar_curve)}
    chosen = [model for model in (MDM, AR) if args.models in ("both", model.split(" ")[0].lower())]
    trained, points = [], []
    for model in chosen:
        run, curve = runs[model]
        shutil.rmtree(run.output_dir, ignore_errors=True)  # checkpoint-N folders of an earlier run are not this run's
        print(f"== {model}: {recipe.steps} steps, a checkpoint every {recipe.every}", flush=True)
        model_trained, model_points = curve(run, eval_sets, length)
        trained.append(model_trained)
        points += model_points
    title = (f"countdown-3 ({', '.join(f'{k}={v}' for k, v in SETTING.options.items())})\n"
             f"{recipe.train_puzzles} problems, batch {base.batch_size}, lr {base.learning_rate:g} cosine, "
             f"{recipe.steps} steps")
    print("\n" + curve_table(points))
    print("\nhow far the answers get (each column includes the ones before it but solved)\n" + profile_table(points))
    print("\n" + "; ".join(f"{t.model}: {t.parameters:,} parameters, {t.train_seconds / 60:.1f} train minutes"
                            for t in trained))
    (args.output_dir / "countdown_curve.json").write_text(json.dumps({
        "setting": dict(SETTING.options), "recipe": dataclasses.asdict(recipe), "title": title,
        "models": [dataclasses.asdict(t) for t in trained],
        "curve": [dataclasses.asdict(p) for p in points]}, indent=2))
    write_curve_chart(points, args.output_dir / "countdown_curve.png", title)
    print(f"wrote {args.output_dir / 'countdown_curve.json'} and {args.output_dir / 'countdown_curve.png'}")
    return points


if __name__ == "__main__":
    main()
