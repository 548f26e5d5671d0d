"""diffu-GRPO against continued SFT for the same wall time, from a mediocre SFT start (issue 23).

Run from the repository root (CPU, offline):

    HF_HUB_OFFLINE=1 python benchmarks/rl.py --budget-seconds 1200          # the issue's 20 minutes
    HF_HUB_OFFLINE=1 python benchmarks/rl.py --budget-seconds 300           # the shorter version
    HF_HUB_OFFLINE=1 python benchmarks/rl.py --start runs/x --budget-seconds 300   # reuse a start

1. Start: the demo's tiny LLaDA recipe (``dllm_llada.demo.train_run_config``) trained for only
   ``--sft-steps`` steps on ``sudoku4``, where it solves some puzzles but not most (skipped with
   ``--start``).
2. Two runs from that start, each stopped after ``--budget-seconds`` of training (a trainer
   callback registered through the ``dllm_trainer_callbacks`` hook; it also asks for a
   ``checkpoint-N`` every ``--curve-seconds``):

   * GRPO: ``--mode grpo`` with the task's checker as the reward (plus ``--extra-reward``),
     ``--grpo-batch`` prompts x ``--num-generations`` completions per step;
   * SFT: ``--mode sft`` on fresh sudoku4 puzzles with the recipe's optimizer settings.
3. Every kept checkpoint and the final ones are scored on ``--eval-puzzles`` held-out puzzles
   (greedy ``llada`` sampling, the 20-token answer in 20 steps, through ``InferenceSession``),
   giving the held-out solve rate against training seconds for both runs.

Results: ``--output-dir``/``rl.json`` and ``rl_curves.png``.

Measured (shared 2-core CPU, 5 minutes per run, 100 puzzles): from a 9.0% start (200 SFT steps)
GRPO 9.0% (53 steps), SFT 81.0% (229 steps); from a 45.0% start (119 more SFT steps) GRPO 56.0%
(35 steps), SFT 98.0% (1597 steps). See docs/rl.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from dllm_core.hookspecs import hookimpl

ANSWER = {"gen_length": 20, "block_length": 20, "steps": 20}


class TimeBudget:
    """A plugin object (pluggy) whose trainer callback stops a run after ``seconds`` of training and
    asks for a checkpoint every ``every`` seconds, recording when each step's save happened."""

    def __init__(self, seconds: float, every: float) -> None:
        self.seconds, self.every = seconds, every
        self.saves: list[tuple[int, float]] = []  # (step, training seconds)

    @hookimpl
    def dllm_trainer_callbacks(self, context: dict[str, Any]) -> list[Any]:
        from transformers import TrainerCallback

        budget = self

        class Stop(TrainerCallback):
            def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                self.start, self.next_save = time.perf_counter(), budget.every

            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                elapsed = time.perf_counter() - self.start
                if elapsed >= self.next_save or elapsed >= budget.seconds:
                    control.should_save = True
                    budget.saves.append((state.global_step, elapsed))
                    self.next_save = elapsed + budget.every
                if elapsed >= budget.seconds:
                    control.should_training_stop = True

        return [Stop()]


def train_with_budget(config: Any, seconds: float, every: float) -> list[tuple[int, float]]:
    """Run ``config`` for at most ``seconds``; the (step, seconds) of each kept checkpoint."""
    from dllm_core.registry import get_registry
    from dllm_core.training.run import run_training

    budget = TimeBudget(seconds, every)
    manager = get_registry().manager
    manager.register(budget, name="rl-benchmark-budget")
    try:
        run_training(config)
    finally:
        manager.unregister(name="rl-benchmark-budget")
    return budget.saves


def solve_rate(checkpoint: Path, puzzles: list[dict[str, str]], task: Any) -> float:
    """Greedy held-out solve rate of ``checkpoint`` (llada sampler, the 20-token answer in 20 steps)."""
    from dllm_core.session import InferenceSession

    session = InferenceSession.load(checkpoint, generator="llada")
    prompts = [p["prompt"] for p in puzzles]
    completions = session.complete(prompts, session.params(values={**ANSWER, "temperature": 0.0}), chat=True)
    return sum(task.check(p, c.text) for p, c in zip(prompts, completions)) / len(prompts)


def curve(run: Path, saves: list[tuple[int, float]], puzzles: list[dict[str, str]], task: Any) -> list[dict]:
    """Solve rate of each kept checkpoint of ``run`` against its training seconds."""
    points = []
    for step, seconds in saves:
        folder = run / f"checkpoint-{step}"
        if folder.is_dir():
            points.append({"step": step, "seconds": round(seconds, 1), "solve_rate": solve_rate(folder, puzzles, task)})
    return points


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name in ("grpo", "sft"):
        points = [{"seconds": 0.0, "solve_rate": result["start_solve_rate"]}, *result[name]["curve"]]
        axis.plot([p["seconds"] / 60 for p in points], [100 * p["solve_rate"] for p in points], "o-",
                  label=f"{name} (final {100 * result[name]['solve_rate']:.1f}%)")
    axis.set_xlabel("training minutes (from the SFT start)")
    axis.set_ylabel("held-out solve rate (%)")
    axis.set_title(f"sudoku4: diffu-GRPO vs continued SFT ({result['eval_puzzles']} puzzles)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=Path("runs/rl"))
    parser.add_argument("--start", type=Path, help="an SFT checkpoint to start from (skips step 1)")
    parser.add_argument("--sft-steps", type=int, default=250, help="steps of the mediocre SFT start")
    parser.add_argument("--budget-seconds", type=float, default=1200.0, help="training time of each run")
    parser.add_argument("--curve-seconds", type=float, default=60.0, help="a checkpoint for the curve every N s")
    parser.add_argument("--eval-puzzles", type=int, default=100)
    parser.add_argument("--grpo-batch", type=int, default=4, help="prompts per GRPO step")
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--num-iterations", type=int, default=2)
    parser.add_argument("--grpo-lr", type=float, default=1e-4)
    parser.add_argument("--beta", type=float, default=0.02)
    parser.add_argument("--temperature", type=float, default=0.7, help="GRPO sampling temperature")
    parser.add_argument("--extra-reward", default="", help="comma-separated rewards added to the checker")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from dllm_core.registry import get_registry
    from dllm_core.training.run_config import TrainRunConfig
    from dllm_llada.demo import DemoConfig, train_run_config

    args.output_dir.mkdir(parents=True, exist_ok=True)
    task = get_registry().tasks.get("sudoku4")()
    puzzles = task.generate(args.eval_puzzles, seed=1234, split="test")
    demo = DemoConfig(output_dir=args.output_dir / "start", seed=args.seed, max_steps=args.sft_steps)
    start = args.start
    if start is None:
        started = time.perf_counter()
        sft_start = train_run_config(demo)
        sft_start.disable_progress_bar = True
        from dllm_core.training.run import run_training

        run_training(sft_start)
        print(f"SFT start: {args.sft_steps} steps in {time.perf_counter() - started:.0f} s")
        start = demo.output_dir
    result: dict[str, Any] = {"start": str(start), "eval_puzzles": args.eval_puzzles,
                              "budget_seconds": args.budget_seconds, "start_solve_rate": solve_rate(start, puzzles, task)}
    print(f"start solve rate: {100 * result['start_solve_rate']:.1f}%")
    rewards = ["sudoku4", *[r for r in args.extra_reward.split(",") if r]]
    common = dict(model=str(start), lr_scheduler_type="constant", logging_steps=1, seed=args.seed,
                  disable_progress_bar=True, max_steps=100_000, save_steps=100_000, generator_defaults=dict(ANSWER))
    runs = {
        "grpo": TrainRunConfig(mode="grpo", data=f"sudoku4[train:20000,test:0,seed:{args.seed + 1}]",
                               output_dir=args.output_dir / "grpo", batch_size=args.grpo_batch,
                               num_generations=args.num_generations, num_iterations=args.num_iterations,
                               learning_rate=args.grpo_lr, beta=args.beta, temperature=args.temperature,
                               reward=rewards, **common),
        "sft": TrainRunConfig(mode="sft", data=f"sudoku4[train:20000,test:0,seed:{args.seed + 1}]",
                              output_dir=args.output_dir / "sft", batch_size=demo.batch_size,
                              learning_rate=demo.learning_rate, weight_decay=demo.weight_decay, **common),
    }
    for name, config in runs.items():
        saves = train_with_budget(config, args.budget_seconds, args.curve_seconds)
        history = json.loads((config.output_dir / "log_history.json").read_text())
        steps = max((row["step"] for row in history if "step" in row), default=0)
        points = curve(config.output_dir, saves, puzzles, task)
        result[name] = {"steps": steps, "curve": points, "solve_rate": solve_rate(config.output_dir, puzzles, task),
                        "rewards": [row["reward"] for row in history if "reward" in row]}
        print(f"{name}: {steps} steps in {args.budget_seconds:.0f} s, solve rate "
              f"{100 * result[name]['solve_rate']:.1f}%  curve {[(p['seconds'], p['solve_rate']) for p in points]}")
    (args.output_dir / "rl.json").write_text(json.dumps(result, indent=2))
    plot(result, args.output_dir / "rl_curves.png")
    print(f"start {100 * result['start_solve_rate']:.1f}% -> GRPO {100 * result['grpo']['solve_rate']:.1f}%, "
          f"SFT {100 * result['sft']['solve_rate']:.1f}%  ({args.output_dir / 'rl.json'})")


if __name__ == "__main__":
    main()
