"""The main job on the embedded default: train a tiny LLaDA on 4x4 sudoku, evaluate, show it.

``dllm demo`` comes with the dllm-llada plugin (registered through the command hook), since it
trains and samples this family with its reference samplers.

``dllm demo`` (``make demo``) runs five stages on the CPU, offline, deterministic under its seed:

1. train the ``tiny`` LLaDA preset from scratch with masked diffusion on the built-in
   ``sudoku4`` task (train split generated with the seed);
2. evaluate on the held-out split (disjoint from the train split by construction) through the
   same lm-eval path ``dllm eval`` uses, printing ``solve rate: NN.N%``;
3. replay one puzzle being solved, step by step;
4. sample with the fast settings (dual KV cache + confidence threshold) next to the plain
   setting: accuracy, NFE and time;
5. leave the checkpoint (with ``dllm.json``), the loss curve, the eval JSON and a markdown
   summary in the output folder, and print the commands to try next.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from dllm_core.api import DllmError, get_registry

#: one token per step over the 20-token answer (19 grid characters + end of text)
ANSWER_TOKENS = 20
PLAIN = {"preset": "llada", "params": {"gen_length": ANSWER_TOKENS, "block_length": ANSWER_TOKENS,
                                       "steps": ANSWER_TOKENS}}
FAST = {"preset": "fastdllm", "params": {"gen_length": ANSWER_TOKENS, "block_length": ANSWER_TOKENS,
                                         "steps": ANSWER_TOKENS, "use_cache": "dual", "threshold": 0.9}}


@dataclass
class DemoConfig:
    """The demo's knobs; the defaults are what ``make demo`` runs."""

    output_dir: Path = Path("runs/demo")
    seed: int = 0
    train_puzzles: int = 20000
    max_steps: int = 1000
    batch_size: int = 32  # at a fixed budget of puzzles, more and smaller steps learn faster here
    learning_rate: float = 2e-3
    weight_decay: float = 0.1
    warmup_ratio: float = 0.2  # a long warmup makes the jump to solving puzzles come early and reliably
    eval_puzzles: int = 200
    speed_puzzles: int = 200


@dataclass
class SettingResult:
    name: str
    accuracy: float
    nfe: int
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
        data=f"sudoku4[train:{config.train_puzzles},seed:{config.seed}]",
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


def held_out_puzzles(count: int) -> tuple[Any, list[dict[str, str]]]:
    task = get_registry().tasks.get("sudoku4")()
    return task, task.generate(count, seed=1234, split="test")


def show_one_puzzle(session: Any, puzzle: dict[str, str]) -> None:
    """Replay the plain setting solving ``puzzle``, one frame per step."""
    options = {"show_denoising": True}
    [completion] = session.complete([puzzle["prompt"]], session.params(values=PLAIN["params"]), chat=True,
                                    options=options)
    print("puzzle (0 = blank):\n" + puzzle["prompt"])
    session.generator.show_row(session, completion.generation, completion.row, options)
    print("answer:\n" + completion.text)


def compare_settings(session: Any, task: Any, puzzles: list[dict[str, str]]) -> list[SettingResult]:
    """Accuracy, NFE per batch and wall time of the plain and the fast setting."""
    prompts = [p["prompt"] for p in puzzles]
    results = []
    for name, setting in (("plain (llada, 1 token/step)", PLAIN), ("fast (dual cache + threshold 0.9)", FAST)):
        chosen = session.with_generator(setting["preset"])
        start = time.perf_counter()
        completions = chosen.complete(prompts, chosen.params(values=setting["params"]), chat=True)
        seconds = time.perf_counter() - start
        solved = sum(task.check(prompt, c.text) for prompt, c in zip(prompts, completions))
        results.append(SettingResult(name, solved / len(prompts), completions[0].nfe, seconds))
    return results


def write_summary(config: DemoConfig, solve_rate: float, settings: list[SettingResult],
                  train_metrics: dict[str, Any]) -> Path:
    rows = "\n".join(f"| {s.name} | {100 * s.accuracy:.1f}% | {s.nfe} | {s.seconds:.2f} |" for s in settings)
    path = config.output_dir / "demo_summary.md"
    path.write_text(
        "# dllm demo: masked diffusion on 4x4 sudoku\n\n"
        f"- model: tiny LLaDA preset, trained from scratch for {config.max_steps} steps "
        f"(batch {config.batch_size}, seed {config.seed}) on {config.train_puzzles} generated puzzles\n"
        f"- train runtime: {train_metrics.get('train_runtime', float('nan')):.0f} s\n"
        f"- held-out solve rate (dllm eval, {config.eval_puzzles} puzzles): **{100 * solve_rate:.1f}%**\n\n"
        "| setting | solved | NFE | seconds |\n|---|---|---|---|\n" + rows + "\n\n"
        "![loss curve](loss_curve.png)\n"
    )
    (config.output_dir / "demo_results.json").write_text(json.dumps(
        {"solve_rate": solve_rate, "settings": [asdict(s) for s in settings], "config": {
            k: str(v) for k, v in asdict(config).items()}}, indent=2))
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
    task, puzzles = held_out_puzzles(config.speed_puzzles)
    say("3/5 watch it think", "Generation starts from an all-mask answer and commits the most "
        "confident cell at every step (new cells in green).")
    show_one_puzzle(session, puzzles[0])
    say("4/5 fast sampling", "Fast-dLLM's dual KV cache reuses attention keys/values between steps, "
        "and the confidence threshold commits every cell the model is sure of at once. Cells "
        "committed together cannot see each other, so a model this small trades some accuracy "
        "for the fewer steps.")
    settings = compare_settings(session, task, puzzles)
    for s in settings:
        print(f"{s.name:<36} accuracy {100 * s.accuracy:5.1f}%   NFE {s.nfe:>3}   {s.seconds:6.2f} s")
    summary = write_summary(config, solve_rate, settings, train_metrics)
    out = config.output_dir
    say("5/5 done", f"Checkpoint, loss curve, eval JSON and summary are in {out}/ ({summary.name}).\nTry next:\n"
        f"  dllm sample {out} --chat --prompt '1200\\n3400\\n0000\\n4321' --gen-length 20 --steps 20 "
        "--block-length 20 --show-denoising\n"
        f"  dllm chat {out} --gen-length 20 --steps 20 --block-length 20\n"
        f"  dllm eval {out} --tasks dllm_sudoku4 --limit 100")
    return solve_rate
