"""diffu-GRPO against continued SFT for the same CPU time, from a mediocre SFT start (issue 23).

Run from the repository root (CPU, offline):

    HF_HUB_OFFLINE=1 python benchmarks/rl.py                                # the issue's 20 minutes
    HF_HUB_OFFLINE=1 python benchmarks/rl.py --budget-seconds 300           # a shorter version
    HF_HUB_OFFLINE=1 python benchmarks/rl.py --start runs/x --arms grpo --num-iterations 2
                                       # reuse a start, re-run GRPO only, keep the earlier SFT arm

1. Start: the demo's tiny LLaDA recipe (``dllm_llada.demo.train_run_config``) trained for only
   ``--sft-steps`` steps on ``sudoku4``, where it solves some puzzles but not most (skipped with
   ``--start``).
2. Two arms from that start, side by side, each in its own process on ``--threads`` torch threads
   and stopped after ``--budget-seconds`` of training by ``--clock`` (the arm's CPU seconds by
   default, so other load on a shared machine does not shorten one arm more than the other; a
   trainer callback registered through the ``dllm_trainer_callbacks`` hook, which also asks for
   a ``checkpoint-N`` every ``--curve-seconds``):

   * GRPO: ``--mode grpo`` with the task's checker as the reward (plus ``--extra-reward``),
     ``--grpo-batch`` prompts x ``--num-generations`` completions per step, d1's ``mu`` 12 and
     ``beta`` 0.01 by default, log-probabilities by ``--logp-estimator`` (d1's, coupled or
     trajectory);
   * SFT: ``--mode sft`` on fresh sudoku4 puzzles with the recipe's optimizer settings.

   ``--arms`` names the arms to train; another arm is read from the ``arm-NAME.json`` of an
   earlier run in the same ``--output-dir``.
3. Every kept checkpoint and the final ones are scored on ``--eval-puzzles`` held-out puzzles
   (greedy ``llada`` sampling, the 20-token answer in 20 steps, through ``InferenceSession``),
   giving the held-out solve rate against training seconds for both arms.

Results: ``--output-dir``/``rl.json`` and ``rl_curves.png``.

Measured (2-core CPU, 20 CPU minutes per arm, 200 puzzles, start 53.0% after 200 SFT steps):
GRPO with ``--logp-estimator coupled`` 55.0% (2765 steps) beside continued SFT 99.5% (11321
steps); with d1's estimator (an earlier run, under load) 47.0% (2528 steps) and SFT 99.0%;
five-minute pilots of the trajectory estimator 40-56%. See docs/rl.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, get_args

from dllm_core.hookspecs import hookimpl
from dllm_core.training.run_config import LogpEstimator

ANSWER = {"gen_length": 20, "block_length": 20, "steps": 20}


class TimeBudget:
    """A plugin object (pluggy) whose trainer callback stops a run after ``seconds`` of training and
    asks for a checkpoint every ``every`` seconds, recording when each step's save happened."""

    def __init__(self, seconds: float, every: float, clock: Callable[[], float]) -> None:
        self.seconds, self.every, self.clock = seconds, every, clock
        self.saves: list[tuple[int, float]] = []  # (step, training seconds)

    @hookimpl
    def dllm_trainer_callbacks(self, context: dict[str, Any]) -> list[Any]:
        from transformers import TrainerCallback

        budget = self

        class Stop(TrainerCallback):
            def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                self.start, self.next_save = budget.clock(), budget.every

            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                elapsed = budget.clock() - self.start
                if elapsed >= self.next_save or elapsed >= budget.seconds:
                    control.should_save = True
                    budget.saves.append((state.global_step, elapsed))
                    self.next_save = elapsed + budget.every
                if elapsed >= budget.seconds:
                    control.should_training_stop = True

        return [Stop()]


def train_with_budget(config: Any, seconds: float, every: float, clock: Callable[[], float]) -> list[tuple[int, float]]:
    """Run ``config`` for at most ``seconds`` of ``clock``; the (step, seconds) of each kept checkpoint."""
    from dllm_core.registry import get_registry
    from dllm_core.training.run import run_training

    budget = TimeBudget(seconds, every, clock)
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
    axis.set_xlabel(f"training minutes from the SFT start ({result['clock']} time, {result['threads']} thread(s) per arm)")
    axis.set_ylabel("held-out solve rate (%)")
    axis.set_title(f"sudoku4: diffu-GRPO vs continued SFT ({result['eval_puzzles']} puzzles)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
ARMS = ("grpo", "sft")


def arm_config(name: str, args: argparse.Namespace, start: Path) -> Any:
    """The ``TrainRunConfig`` of arm ``name`` (``grpo`` or ``sft``) from the checkpoint ``start``."""
    from dllm_core.training.run_config import TrainRunConfig
    from dllm_llada.demo import DemoConfig

    demo = DemoConfig()
    common = dict(model=str(start), data=f"sudoku4[train:20000,test:0,seed:{args.seed + 1}]",
                  output_dir=args.output_dir / name, lr_scheduler_type="constant", logging_steps=1,
                  seed=args.seed, disable_progress_bar=True, max_steps=100_000, save_steps=100_000,
                  generator_defaults=dict(ANSWER))
    if name == "grpo":
        rewards = ["sudoku4", *[r for r in args.extra_reward.split(",") if r]]
        return TrainRunConfig(mode="grpo", batch_size=args.grpo_batch, num_generations=args.num_generations,
                              num_iterations=args.num_iterations, learning_rate=args.grpo_lr, beta=args.beta,
                              temperature=args.temperature, p_mask_prompt=args.p_mask_prompt,
                              logp_estimator=args.logp_estimator, trajectory_shrinkage=args.trajectory_shrinkage,
                              reward=rewards, **common)
    return TrainRunConfig(mode="sft", batch_size=demo.batch_size, learning_rate=demo.learning_rate,
                          weight_decay=demo.weight_decay, **common)


def run_arm(name: str, args: argparse.Namespace) -> None:
    """Train arm ``name`` from ``args.start`` for the budget on ``args.threads`` torch threads, score
    its kept checkpoints and write ``arm-<name>.json`` into the output folder."""
    import torch

    from dllm_core.registry import get_registry

    torch.set_num_threads(args.threads)
    task = get_registry().tasks.get("sudoku4")()
    puzzles = task.generate(args.eval_puzzles, seed=1234, split="test")
    config = arm_config(name, args, args.start)
    saves = train_with_budget(config, args.budget_seconds, args.curve_seconds, CLOCKS[args.clock])
    history = json.loads((config.output_dir / "log_history.json").read_text())
    steps = max((row["step"] for row in history if "step" in row), default=0)
    result = {"steps": steps, "curve": curve(config.output_dir, saves, puzzles, task),
              "solve_rate": solve_rate(config.output_dir, puzzles, task),
              "rewards": [row["reward"] for row in history if "reward" in row]}
    (args.output_dir / f"arm-{name}.json").write_text(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=Path("runs/rl"))
    parser.add_argument("--start", type=Path, help="an SFT checkpoint to start from (skips step 1)")
    parser.add_argument("--sft-steps", type=int, default=200, help="steps of the mediocre SFT start")
    parser.add_argument("--budget-seconds", type=float, default=1200.0, help="training time of each run")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="what the budget counts: the arm's CPU seconds (default) or wall seconds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each arm")
    parser.add_argument("--curve-seconds", type=float, default=60.0, help="a checkpoint for the curve every N s")
    parser.add_argument("--eval-puzzles", type=int, default=100)
    parser.add_argument("--grpo-batch", type=int, default=4, help="prompts per GRPO step")
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--num-iterations", type=int, default=12, help="inner updates per rollout (d1: 12)")
    parser.add_argument("--grpo-lr", type=float, default=1e-4)
    parser.add_argument("--beta", type=float, default=0.01, help="KL weight (d1: 0.01)")
    parser.add_argument("--p-mask-prompt", type=float, default=0.15, help="chance each prompt token is masked when scoring")
    parser.add_argument("--logp-estimator", choices=get_args(LogpEstimator), default="d1",
                        help="GRPO's log-probability estimate (docs/rl.md)")
    parser.add_argument("--trajectory-shrinkage", type=int, default=4,
                        help="--logp-estimator trajectory: sampler steps scored by one canvas")
    parser.add_argument("--temperature", type=float, default=0.7, help="GRPO sampling temperature")
    parser.add_argument("--extra-reward", default="", help="comma-separated rewards added to the checker")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arms", default="grpo,sft",
                        help="the arms to train; another arm's results are read from an earlier run's arm-NAME.json")
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)  # one arm, in a child process
    args = parser.parse_args()
    run = [name for name in args.arms.split(",") if name]
    if set(run) - set(ARMS):
        parser.error(f"--arms takes names from {', '.join(ARMS)}")
    for name in set(ARMS) - set(run):
        if not (args.output_dir / f"arm-{name}.json").is_file():
            parser.error(f"--arms {args.arms}: no earlier {name} results in {args.output_dir}; train it too")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.arm:
        run_arm(args.arm, args)
        return

    from dllm_core.registry import get_registry
    from dllm_llada.demo import DemoConfig, train_run_config

    task = get_registry().tasks.get("sudoku4")()
    puzzles = task.generate(args.eval_puzzles, seed=1234, split="test")
    start = args.start
    if start is None:
        demo = DemoConfig(output_dir=args.output_dir / "start", seed=args.seed, max_steps=args.sft_steps)
        started = time.perf_counter()
        sft_start = train_run_config(demo)
        sft_start.disable_progress_bar = True
        from dllm_core.training.run import run_training

        run_training(sft_start)
        print(f"SFT start: {args.sft_steps} steps in {time.perf_counter() - started:.0f} s")
        start = demo.output_dir
    result: dict[str, Any] = {"start": str(start), "eval_puzzles": args.eval_puzzles, "clock": args.clock,
                              "threads": args.threads, "budget_seconds": args.budget_seconds,
                              "start_solve_rate": solve_rate(start, puzzles, task)}
    print(f"start solve rate: {100 * result['start_solve_rate']:.1f}%")
    children = [subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--start", str(start), "--arm", name])
                for name in run]  # side by side, each on its own threads
    if any(child.wait() != 0 for child in children):
        raise SystemExit("an arm failed; its output is above")
    for name in ARMS:
        result[name] = json.loads((args.output_dir / f"arm-{name}.json").read_text())
        print(f"{name}: {result[name]['steps']} steps in {args.budget_seconds:.0f} {args.clock} s, solve rate "
              f"{100 * result[name]['solve_rate']:.1f}%  curve "
              f"{[(p['seconds'], p['solve_rate']) for p in result[name]['curve']]}")
    (args.output_dir / "rl.json").write_text(json.dumps(result, indent=2))
    plot(result, args.output_dir / "rl_curves.png")
    print(f"start {100 * result['start_solve_rate']:.1f}% -> GRPO {100 * result['grpo']['solve_rate']:.1f}%, "
          f"SFT {100 * result['sft']['solve_rate']:.1f}%  ({args.output_dir / 'rl.json'})")


if __name__ == "__main__":
    main()
