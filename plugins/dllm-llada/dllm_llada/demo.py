"""The main job on the embedded default: train a tiny LLaDA on 4x4 sudoku, evaluate, show it.

``dllm demo`` comes with the dllm-llada plugin (registered through the command hook), since it
trains and samples this family with its reference samplers.

``dllm demo`` (``make demo``) runs five stages on the CPU, offline, deterministic under its seed:

1. train the ``tiny`` LLaDA preset from scratch with masked diffusion on the built-in
   ``sudoku4`` task (train split generated with the seed, every blank count from ``min_blanks``
   to ``max_blanks``, 4 to 15 hints, with ``k`` blanks weighing ``k``);
2. evaluate on the held-out split (disjoint from the train split by construction) through the
   same lm-eval path ``dllm eval`` uses, printing ``solve rate: NN.N%``;
3. replay one puzzle being solved, step by step;
4. sample ``held_out_per_count`` held-out puzzles of every blank count with the plain setting,
   Fast-dLLM's default (dual KV cache + threshold 0.9) and the fast setting that keeps the
   plain accuracy (:data:`FAST`, threshold 0.99): solve rate overall and per hint count, tokens per forward,
   NFE and time;
5. leave the checkpoint (with ``dllm.json``), the loss curve, the eval JSON, ``demo_results.json``
   and a markdown summary in the output folder, and print the commands to try next.

Tokens per forward: the answer's tokens over the forward calls a puzzle needs, that is the calls
up to the last one that committed one of its tokens (what it costs sampled alone: the commit
rules decide row by row), averaged over puzzles; NFE is the calls of a whole batch, whose
slowest puzzle sets it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from dllm_core.api import DllmError, get_registry

#: one token per step over the 20-token answer (19 grid characters + end of text)
ANSWER_TOKENS = 20
_ANSWER = {"gen_length": ANSWER_TOKENS, "block_length": ANSWER_TOKENS, "steps": ANSWER_TOKENS}
PLAIN = {"preset": "llada", "params": dict(_ANSWER)}
#: Fast-dLLM's published setting: loses accuracy here (both parts of it, see ``benchmarks/quality.py``)
FASTDLLM_DEFAULT = {"preset": "fastdllm", "params": {**_ANSWER, "use_cache": "dual", "threshold": 0.9}}
#: a setting of ``benchmarks/quality.py``'s curve that solves as many puzzles as PLAIN, at every
#: hint count, at over 10 tokens per forward (the factor rule at 0.2 is a little faster but
#: solved 96% of the 4-hint puzzles)
FAST = {"preset": "fastdllm", "params": {**_ANSWER, "threshold": 0.99}}
SETTINGS = {"plain (llada, 1 token/step)": PLAIN,
            "Fast-dLLM default (dual cache + threshold 0.9)": FASTDLLM_DEFAULT,
            "fast (threshold 0.99, no cache)": FAST}


@dataclass
class DemoConfig:
    """The demo's knobs; the defaults are what ``make demo`` runs."""

    output_dir: Path = Path("runs/demo")
    seed: int = 0
    train_puzzles: int = 30000
    min_blanks: int = 1  # train puzzles have min_blanks..max_blanks blanks (4 to 15 hints)
    max_blanks: int = 12
    #: share of each blank count, min_blanks first: k blanks weigh k, so the hard puzzles (few
    #: hints, long chains of deductions) get most of the budget and every count some
    blank_distribution: str = "/".join(str(blanks) for blanks in range(1, 13))
    max_steps: int = 1500
    batch_size: int = 32  # at a fixed budget of puzzles, more and smaller steps learn faster here
    learning_rate: float = 2e-3
    weight_decay: float = 0.1
    warmup_ratio: float = 0.2  # a long warmup makes the jump to solving puzzles come early and reliably
    eval_puzzles: int = 200
    held_out_per_count: int = 100  # held-out puzzles per blank count sampled by every setting


@dataclass
class SettingResult:
    """How one sampling setting did on the held-out puzzles."""

    name: str
    accuracy: float
    tokens_per_forward: float  # answer tokens over the forwards the puzzles need, all puzzles together
    nfe: float  # forward calls per batch, mean over batches
    seconds: float
    by_hints: dict[int, float] = field(default_factory=dict)  # hint count -> solve rate


@dataclass
class Sampled:
    """Answers of one setting and what they cost."""

    texts: list[str]
    forwards: list[int]  # per prompt: forward calls up to the last one that committed its tokens
    nfe: float  # forward calls per batch, mean over batches
    seconds: float


def _say(stage: str, text: str) -> None:
    from rich.console import Console

    Console().print(f"\n[bold cyan]== {stage}[/bold cyan]\n{text}")


def _prepare_output(output_dir: Path) -> None:
    if output_dir.exists():
        if not (output_dir / "demo_summary.md").exists() and any(output_dir.iterdir()):
            raise DllmError(f"{output_dir} exists and is not a previous demo run; pass another "
                            "--output-dir or remove it")
        print(f"removing the previous demo run in {output_dir} (nothing is reused)")
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True)


def train_run_config(config: DemoConfig) -> Any:
    """The ``TrainRunConfig`` of the demo's training stage (``benchmarks/quality.py`` reuses it)."""
    from dllm_core.api import TrainRunConfig

    return TrainRunConfig(
        data=(f"sudoku4[train:{config.train_puzzles},seed:{config.seed},min_blanks:{config.min_blanks},"
              f"max_blanks:{config.max_blanks},blank_distribution:{config.blank_distribution}]"),
        output_dir=config.output_dir, family="llada", preset="tiny", max_steps=config.max_steps,
        batch_size=config.batch_size, learning_rate=config.learning_rate,
        weight_decay=config.weight_decay, warmup_ratio=config.warmup_ratio,
        lr_scheduler_type="cosine", logging_steps=max(1, min(50, config.max_steps // 10)), seed=config.seed,
        generator_defaults=dict(PLAIN["params"]),
    )


def train(config: DemoConfig) -> dict[str, Any]:
    from dllm_core.api import run_training

    return run_training(train_run_config(config)).train_metrics


def evaluate(config: DemoConfig) -> float:
    """Solve rate on the held-out split, through ``dllm eval``'s own path."""
    from dllm_core.api import evaluate_checkpoint

    results = evaluate_checkpoint(config.output_dir, ["dllm_sudoku4"], limit=config.eval_puzzles,
                                  batch_size=50, output_path=config.output_dir / "eval",
                                  model_args=dict(PLAIN["params"]))  # the answer length it was trained on
    if results is None:
        raise DllmError("the evaluation returned no results (not the main process?)")
    return float(results["results"]["dllm_sudoku4"]["solved,none"])


def held_out_puzzles(config: DemoConfig) -> tuple[Any, list[dict[str, str]]]:
    """``held_out_per_count`` test-split puzzles of every blank count the demo trains on."""
    task = get_registry().tasks.get("sudoku4")(min_blanks=config.min_blanks, max_blanks=config.max_blanks)
    counts = config.max_blanks - config.min_blanks + 1
    return task, task.generate(config.held_out_per_count * counts, seed=1234, split="test")


def show_one_puzzle(session: Any, puzzle: dict[str, str]) -> None:
    """Replay the plain setting solving ``puzzle``, one frame per step."""
    options = {"show_denoising": True}
    [completion] = session.complete([puzzle["prompt"]], session.params(values=PLAIN["params"]), chat=True,
                                    options=options)
    print("puzzle (0 = blank):\n" + puzzle["prompt"])
    session.generator.show_row(session, completion.generation, completion.row, options)
    print("answer:\n" + completion.text)


def sample_counting_forwards(session: Any, prompts: list[str], setting: dict[str, Any],
                             batch_size: int = 200) -> Sampled:
    """Chat answers of ``setting`` (``{"preset", "params"}``) in batches of ``batch_size``, with
    the forward calls each prompt needed: the batch's call count at the last step that
    committed one of its tokens (each step is one call)."""
    chosen = session.with_generator(setting["preset"])
    params = chosen.params(values=setting["params"])
    texts: list[str] = []
    forwards: list[int] = []
    nfes: list[int] = []
    start = time.perf_counter()
    for first in range(0, len(prompts), batch_size):
        batch = prompts[first:first + batch_size]
        last = [0] * len(batch)

        def note(info: Any) -> None:
            for row in info.committed.any(dim=1).nonzero().flatten().tolist():  # rows that committed
                last[row] = info.nfe

        completions = chosen.complete(batch, params, chat=True, callback=note)
        texts.extend(c.text for c in completions)
        forwards.extend(last)
        nfes.append(completions[0].nfe)
    return Sampled(texts, forwards, sum(nfes) / len(nfes), time.perf_counter() - start)


def setting_result(name: str, task: Any, prompts: list[str], sampled: Sampled) -> SettingResult:
    """Solve rate overall and per hint count, and tokens per forward, of ``sampled``."""
    outcomes: dict[int, list[bool]] = defaultdict(list)
    for prompt, text in zip(prompts, sampled.texts, strict=True):
        outcomes[task.hints(prompt)].append(task.check(prompt, text))
    solved = sum(sum(o) for o in outcomes.values())
    per_forward = ANSWER_TOKENS * len(prompts) / max(sum(sampled.forwards), 1)
    by_hints = {hints: sum(o) / len(o) for hints, o in sorted(outcomes.items())}
    return SettingResult(name, solved / len(prompts), per_forward, sampled.nfe, sampled.seconds, by_hints)


def compare_settings(session: Any, task: Any, puzzles: list[dict[str, str]]) -> list[SettingResult]:
    """Every setting of :data:`SETTINGS` on ``puzzles``: solve rates, tokens per forward, NFE, time."""
    prompts = [p["prompt"] for p in puzzles]
    return [setting_result(name, task, prompts, sample_counting_forwards(session, prompts, setting))
            for name, setting in SETTINGS.items()]


def settings_table(settings: list[SettingResult]) -> str:
    """Markdown: each setting's solve rate, tokens per forward, NFE and time."""
    rows = [f"| {s.name} | {100 * s.accuracy:.1f}% | {s.tokens_per_forward:.2f} | {s.nfe:.1f} | {s.seconds:.1f} |"
            for s in settings]
    return "\n".join(["| setting | solved | tokens/forward | NFE per batch | seconds |", "|---|---|---|---|---|", *rows])


def hints_table(settings: list[SettingResult]) -> str:
    """Markdown: solve rate per hint count (rows) and setting (columns)."""
    hints = sorted({h for s in settings for h in s.by_hints})
    lines = ["| hints | " + " | ".join(s.name for s in settings) + " |", "|---" * (len(settings) + 1) + "|"]
    lines += [f"| {h} | " + " | ".join(f"{100 * s.by_hints[h]:.1f}%" if h in s.by_hints else "-" for s in settings)
              + " |" for h in hints]
    return "\n".join(lines)


def write_summary(config: DemoConfig, solve_rate: float, settings: list[SettingResult],
                  train_metrics: dict[str, Any]) -> Path:
    held_out = config.held_out_per_count * (config.max_blanks - config.min_blanks + 1)
    path = config.output_dir / "demo_summary.md"
    path.write_text(
        "# dllm demo: masked diffusion on 4x4 sudoku\n\n"
        f"- model: tiny LLaDA preset, trained from scratch for {config.max_steps} steps "
        f"(batch {config.batch_size}, seed {config.seed}) on {config.train_puzzles} generated puzzles, "
        f"{config.min_blanks} to {config.max_blanks} blanks (shares {config.blank_distribution})\n"
        f"- train runtime: {train_metrics.get('train_runtime', float('nan')):.0f} s\n"
        f"- held-out solve rate (dllm eval, {config.eval_puzzles} puzzles): **{100 * solve_rate:.1f}%**\n\n"
        f"## Sampling settings on {held_out} held-out puzzles ({config.held_out_per_count} per blank count)\n\n"
        + settings_table(settings) + "\n\n## Solve rate per hint count\n\n" + hints_table(settings) + "\n\n"
        "![loss curve](loss_curve.png)\n"
    )
    (config.output_dir / "demo_results.json").write_text(json.dumps(
        {"solve_rate": solve_rate, "settings": [asdict(s) for s in settings],
         "sampling": {name: setting for name, setting in SETTINGS.items()},
         "config": {k: str(v) for k, v in asdict(config).items()}}, indent=2))
    return path


def run_demo(config: DemoConfig, say: Callable[[str, str], None] = _say) -> float:
    """Run the five stages; returns the held-out solve rate."""
    import torch

    from dllm_core.api import InferenceSession

    torch.manual_seed(config.seed)
    _prepare_output(config.output_dir)
    say("1/5 train", "A tiny bidirectional transformer (LLaDA architecture) learns to fill 4x4 sudoku "
        "grids by masked diffusion: each training grid has a random fraction of its answer cells "
        "replaced by a mask token, and the model learns to predict them all at once.")
    train_metrics = train(config)
    say("2/5 evaluate", "Held-out puzzles (no puzzle shared with training), scored by lm-eval through "
        "the same path as `dllm eval`; an answer counts when it is a valid completed grid.")
    solve_rate = evaluate(config)
    print(f"solve rate: {100 * solve_rate:.1f}%")
    session = InferenceSession.load(config.output_dir)
    task, puzzles = held_out_puzzles(config)
    say("3/5 watch it think", "Generation starts from an all-mask answer and commits the most "
        "confident cell at every step (new cells in green).")
    show_one_puzzle(session, puzzles[0])
    say("4/5 fast sampling", f"{len(puzzles)} held-out puzzles, every hint count alike. Fast-dLLM's "
        "default commits every cell the model gives at least 0.9 at once, and its dual KV cache "
        "keeps the prompt's keys/values from the all-mask answer. The threshold costs accuracy: a puzzle "
        "needs every cell right, and cells committed together cannot see each other. Committing "
        "only cells the model gives at least 0.99 keeps the plain accuracy at many cells per forward.")
    settings = compare_settings(session, task, puzzles)
    for s in settings:
        print(f"{s.name:<48} solved {100 * s.accuracy:5.1f}%   tokens/forward {s.tokens_per_forward:5.2f}   "
              f"NFE {s.nfe:5.1f}   {s.seconds:6.1f} s")
    print("\nsolve rate per hint count:\n" + hints_table(settings))
    summary = write_summary(config, solve_rate, settings, train_metrics)
    out = config.output_dir
    say("5/5 done", f"Checkpoint, loss curve, eval JSON and summary are in {out}/ ({summary.name}).\nTry next:\n"
        f"  dllm sample {out} --chat --prompt '1200\\n3400\\n0000\\n4321' --gen-length 20 --steps 20 "
        "--block-length 20 --show-denoising\n"
        f"  dllm chat {out} --gen-length 20 --steps 20 --block-length 20\n"
        f"  dllm eval {out} --tasks dllm_sudoku4 --limit 100")
    return solve_rate
