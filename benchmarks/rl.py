"""diffu-GRPO against continued SFT for the same CPU time, from a mediocre SFT start (issue 23).

Run from the repository root (CPU, offline):

    HF_HUB_OFFLINE=1 python benchmarks/rl.py                         # countdown-3, the issue's 20 minutes
    HF_HUB_OFFLINE=1 python benchmarks/rl.py --start runs/countdown_mdm20k/mdm --arms grpo
                                       # reuse a start, train GRPO only (an earlier SFT arm is kept)
    HF_HUB_OFFLINE=1 python benchmarks/rl.py --task sudoku4 --logp-estimator coupled \
        --num-iterations 12 --temperature 0.7 --grpo-lr 1e-4 --sft-lr 2e-3 --lr-schedule constant \
        --rollout-steps 20                                           # the sudoku4 runs of docs/rl.md

1. Start (skipped with ``--start``): the tiny LLaDA trained by the task's recipe, where it solves
   some held-out puzzles but not most: ``countdown`` (3 numbers, three-digit answers), the
   recipe of ``countdown_recipe.py`` over its 20,000-step schedule (``--sft-steps`` stops it
   earlier); ``sudoku4`` (every hint count), the demo's recipe over ``--sft-steps`` (200).
   Its **headroom** is printed: at the GRPO temperature, the share of held-out puzzles that some
   of ``--num-generations`` samples solve but greedy decoding does not, and the share whose
   samples disagree (a group with a learning signal).
2. Two arms from that start, side by side, each in its own process on ``--threads`` torch threads
   and stopped after ``--budget-seconds`` of training by ``--clock`` (the arm's CPU seconds by
   default, so other load on a shared machine does not shorten one arm more than the other; a
   trainer callback registered through the ``dllm_trainer_callbacks`` hook, which also asks for
   a ``checkpoint-N`` every ``--curve-seconds``):

   * GRPO: ``--mode grpo`` with the task's checker as the reward (plus ``--extra-reward``),
     ``--grpo-batch`` prompts x ``--num-generations`` completions per step, ``mu`` 2, ``beta``
     0.01, T 1.0, log-probabilities by ``--logp-estimator`` (default ``trajectory`` with
     shrinkage 8; d1's or coupled), rollouts committing two tokens a step (``--rollout-steps``);
   * SFT: ``--mode sft`` on fresh puzzles of the task with the demo's batch and weight decay.

   Both arms' learning rates fall linearly from their peak (``--grpo-lr``, ``--sft-lr``) to 0 as
   the budget is spent (``--lr-schedule anneal``; a step schedule cannot, the steps that fit are
   not known beforehand).

   ``--arms`` names the arms to train; another arm is read from the ``arm-NAME.json`` of an
   earlier run in the same ``--output-dir`` when there is one.
3. Every kept checkpoint and the final ones are scored on ``--eval-puzzles`` held-out puzzles
   (greedy ``llada`` sampling, one answer token per step, through ``InferenceSession``), giving
   the held-out solve rate against training seconds for both arms.

Results: ``--output-dir``/``rl.json`` and ``rl_curves.png``.

Measured (2-core CPU, one thread and 20 CPU minutes per arm, 200 puzzles, the defaults),
countdown from the 52.5% start: GRPO 70.0, 70.5, 64.5, 70.0, 63.0% (seeds 1, 0, 2, 3, 4; +15.1
on average), continued SFT 62.5 and 56.5% (seeds 1, 0); sudoku4 from a 53.0% start (the
docstring's command): GRPO 47-56%, SFT 99.5%. See docs/rl.md, "Numbers".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, get_args

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _quality_common import TaskSetting, plain_generation  # the helper modules sit beside this script
from countdown_recipe import SETTING as COUNTDOWN_3
from countdown_recipe import CountdownRecipe, recipe_run

from dllm_core.hookspecs import hookimpl
from dllm_core.training.run_config import LogpEstimator


def demo_start(seed: int, schedule: int, output_dir: Path) -> Any:
    """The demo's tiny LLaDA recipe (sudoku4) over a ``schedule``-step learning-rate schedule."""
    from dllm_llada.demo import DemoConfig, train_run_config

    return train_run_config(DemoConfig(output_dir=output_dir, seed=seed, max_steps=schedule))


def countdown_start(seed: int, schedule: int, output_dir: Path) -> Any:
    """``countdown_recipe.py``'s recipe (countdown-3, three-digit answers) over ``schedule`` steps."""
    from dllm_llada.demo import DemoConfig, train_run_config

    return recipe_run(train_run_config(DemoConfig(seed=seed)), CountdownRecipe(steps=schedule, every=0), output_dir)


@dataclass(frozen=True)
class RLTask:
    """A task the benchmark runs on: its puzzles, the answer's sampling settings, and the SFT start."""

    setting: TaskSetting  # the training and held-out puzzles
    answer: dict[str, int]  # generator settings of the held-out scoring (one token a step) and rollouts
    start_recipe: Callable[[int, int, Path], Any]  # (seed, schedule steps, output dir) -> TrainRunConfig
    start_schedule: int  # optimizer steps of the start's learning-rate schedule (0: the steps it trains)
    default_sft_steps: int  # optimizer steps the start trains, of that schedule


#: ``countdown`` with 3 numbers (Dream's cd3 distribution), started from ``countdown_recipe.py``'s
#: recipe over a 20,000-step schedule (``--sft-steps 10000`` stops it half way); ``sudoku4`` over
#: every hint count, started from the demo's recipe cut to 200 steps
TASKS = {
    # 24 tokens: the recipe's longest answer and its end of text (countdown_recipe.recipe_answer_tokens)
    "countdown": RLTask(COUNTDOWN_3, plain_generation(24), countdown_start, 20_000, 20_000),
    "sudoku4": RLTask(TaskSetting("sudoku4", "sudoku4"), plain_generation(20), demo_start, 0, 200),
}


class TimeBudget:
    """A plugin object (pluggy) whose trainer callback stops a run after ``seconds`` of training and
    asks for a checkpoint every ``every`` seconds, recording when each step's save happened. With
    ``anneal`` the learning rate falls linearly with the time spent, lr(t) = lr * (1 - t / seconds),
    reaching 0 as the budget ends (a step schedule cannot: how many steps fit is not known)."""

    def __init__(self, seconds: float, every: float, clock: Callable[[], float], anneal: bool = False) -> None:
        self.seconds, self.every, self.clock, self.anneal = seconds, every, clock, anneal
        self.saves: list[tuple[int, float]] = []  # (step, training seconds)

    def share_left(self, started: float) -> float:
        """The share of the budget not yet spent, in [0, 1]."""
        return min(1.0, max(0.0, 1.0 - (self.clock() - started) / self.seconds))

    @hookimpl
    def dllm_trainer_callbacks(self, context: dict[str, Any]) -> list[Any]:
        from transformers import TrainerCallback

        budget = self

        class Stop(TrainerCallback):
            def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                self.start, self.next_save = budget.clock(), budget.every
                if budget.anneal:  # the trainer's LambdaLR (constant schedule) scales by the time left
                    scheduler = kwargs["lr_scheduler"]
                    scheduler.lr_lambdas = [lambda _: budget.share_left(self.start)] * len(scheduler.lr_lambdas)

            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                elapsed = budget.clock() - self.start
                if elapsed >= self.next_save or elapsed >= budget.seconds:
                    control.should_save = True
                    budget.saves.append((state.global_step, elapsed))
                    self.next_save = elapsed + budget.every
                if elapsed >= budget.seconds:
                    control.should_training_stop = True

        return [Stop()]


def train_with_plugin(config: Any, plugin: Any) -> None:
    """Run ``config`` with ``plugin`` (an object with hook implementations) registered meanwhile."""
    from dllm_core.registry import get_registry
    from dllm_core.training.run import run_training

    manager = get_registry().manager
    manager.register(plugin, name="rl-benchmark")
    try:
        run_training(config)
    finally:
        manager.unregister(name="rl-benchmark")


def train_with_budget(config: Any, seconds: float, every: float, clock: Callable[[], float],
                      anneal: bool = False) -> list[tuple[int, float]]:
    """Run ``config`` for at most ``seconds`` of ``clock`` (the learning rate annealed over them with
    ``anneal``); the (step, seconds) of each kept checkpoint."""
    budget = TimeBudget(seconds, every, clock, anneal)
    train_with_plugin(config, budget)
    return budget.saves


@dataclass
class HeldOut:
    """The held-out puzzles of a run and how they are answered (greedy ``llada``, one token a step)."""

    task: Any  # the registered task, whose checker scores
    puzzles: list[dict[str, str]]
    answer: dict[str, int]

    @classmethod
    def of(cls, rl_task: RLTask, count: int) -> HeldOut:
        task = rl_task.setting.build(held_out=True)
        return cls(task, task.generate(count, seed=1234, split="test"), rl_task.answer)

    def solved(self, session: Any, temperature: float = 0.0, seed: int = 0) -> list[bool]:
        """Which puzzles ``session`` (an ``InferenceSession``) solves at ``temperature``."""
        prompts = [p["prompt"] for p in self.puzzles]
        params = session.params(values={**self.answer, "temperature": temperature})
        completions = session.complete(prompts, params, chat=True, seed=seed)
        return [self.task.check(p, c.text) for p, c in zip(prompts, completions)]

    def solve_rate(self, checkpoint: Path) -> float:
        """Greedy solve rate of ``checkpoint`` on the puzzles."""
        from dllm_core.session import InferenceSession

        solved = self.solved(InferenceSession.load(checkpoint, generator="llada"))
        return sum(solved) / len(solved)

    def headroom(self, session: Any, samples: int, temperature: float) -> dict[str, float]:
        """How much a policy-gradient method can find on the puzzles: ``session``'s greedy solve
        rate, the mean solve rate of ``samples`` answers sampled at ``temperature`` (GRPO's
        rollouts), the share solved by at least one of them (pass@samples), the share solved by
        some sample but not greedily, and the share whose samples disagree (a group with a
        learning signal)."""
        greedy = self.solved(session)
        drawn = [self.solved(session, temperature, seed=draw + 1) for draw in range(samples)]
        per_puzzle = [sum(column) for column in zip(*drawn)]
        count = len(greedy)
        return {"greedy": sum(greedy) / count, "sampled": sum(per_puzzle) / (samples * count),
                f"pass@{samples}": sum(hits > 0 for hits in per_puzzle) / count,
                "found_by_sampling_only": sum(hits > 0 and not g for hits, g in zip(per_puzzle, greedy)) / count,
                "mixed_groups": sum(0 < hits < samples for hits in per_puzzle) / count}

    def curve(self, run: Path, saves: list[tuple[int, float]]) -> list[dict]:
        """Solve rate of each kept checkpoint of ``run`` against its training seconds."""
        points = []
        for step, seconds in saves:
            folder = run / f"checkpoint-{step}"
            if folder.is_dir():
                points.append({"step": step, "seconds": round(seconds, 1), "solve_rate": self.solve_rate(folder)})
        return points


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name in [arm for arm in ARMS if arm in result]:
        points = [{"seconds": 0.0, "solve_rate": result["start_solve_rate"]}, *result[name]["curve"]]
        axis.plot([p["seconds"] / 60 for p in points], [100 * p["solve_rate"] for p in points], "o-",
                  label=f"{name} (final {100 * result[name]['solve_rate']:.1f}%)")
    axis.set_xlabel(f"training minutes from the SFT start ({result['clock']} time, {result['threads']} thread(s) per arm)")
    axis.set_ylabel("held-out solve rate (%)")
    axis.set_title(f"{result['task']}: diffu-GRPO vs continued SFT ({result['eval_puzzles']} puzzles)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
ARMS = ("grpo", "sft")


class StopAt:
    """A plugin object whose trainer callback stops a run after ``steps`` optimizer steps (of a
    longer learning-rate schedule) and saves the model there."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    @hookimpl
    def dllm_trainer_callbacks(self, context: dict[str, Any]) -> list[Any]:
        from transformers import TrainerCallback

        steps = self.steps

        class Stop(TrainerCallback):
            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                if state.global_step >= steps:
                    control.should_training_stop = True

        return [Stop()]


def train_start(rl_task: RLTask, steps: int, seed: int, output_dir: Path) -> Path:
    """Train the mediocre SFT start into ``output_dir``: the task's start recipe, stopped after
    ``steps`` optimizer steps of its ``rl_task.start_schedule``-step schedule."""
    import dataclasses

    config = rl_task.start_recipe(seed, rl_task.start_schedule or steps, output_dir)
    train_with_plugin(dataclasses.replace(config, disable_progress_bar=True, save_steps=None), StopAt(steps))
    return output_dir


def arm_config(name: str, args: argparse.Namespace, start: Path) -> Any:
    """The ``TrainRunConfig`` of arm ``name`` (``grpo`` or ``sft``) from the checkpoint ``start``."""
    from dllm_core.training.run_config import TrainRunConfig
    from dllm_llada.demo import DemoConfig

    demo, rl_task = DemoConfig(), TASKS[args.task]
    common = dict(model=str(start), data=rl_task.setting.spec(20_000, args.seed + 1),
                  output_dir=args.output_dir / name, lr_scheduler_type="constant", logging_steps=1,
                  seed=args.seed, disable_progress_bar=True, max_steps=100_000, save_steps=100_000,
                  generator_defaults=dict(rl_task.answer))
    if name == "grpo":
        common["generator_defaults"]["steps"] = args.rollout_steps or max(1, rl_task.answer["gen_length"] // 2)
        rewards = [rl_task.setting.task, *[r for r in args.extra_reward.split(",") if r]]
        return TrainRunConfig(mode="grpo", batch_size=args.grpo_batch, num_generations=args.num_generations,
                              num_iterations=args.num_iterations, learning_rate=args.grpo_lr, beta=args.beta,
                              temperature=args.temperature, p_mask_prompt=args.p_mask_prompt,
                              logp_estimator=args.logp_estimator, trajectory_shrinkage=args.trajectory_shrinkage,
                              reward=rewards, **common)
    return TrainRunConfig(mode="sft", batch_size=demo.batch_size, learning_rate=args.sft_lr or args.grpo_lr,
                          weight_decay=demo.weight_decay, **common)


def run_arm(name: str, args: argparse.Namespace) -> None:
    """Train arm ``name`` from ``args.start`` for the budget on ``args.threads`` torch threads, score
    its kept checkpoints and write ``arm-<name>.json`` into the output folder."""
    import torch

    from dllm_core.registry import get_registry

    torch.set_num_threads(args.threads)
    held_out = HeldOut.of(TASKS[args.task], args.eval_puzzles)
    config = arm_config(name, args, args.start)
    saves = train_with_budget(config, args.budget_seconds, args.curve_seconds, CLOCKS[args.clock],
                              anneal=args.lr_schedule == "anneal")
    history = json.loads((config.output_dir / "log_history.json").read_text())
    steps = max((row["step"] for row in history if "step" in row), default=0)
    result = {"steps": steps, "curve": held_out.curve(config.output_dir, saves),
              "solve_rate": held_out.solve_rate(config.output_dir),
              "rewards": [row["reward"] for row in history if "reward" in row]}
    (args.output_dir / f"arm-{name}.json").write_text(json.dumps(result, indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``--arms`` is checked here."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=Path("runs/rl"))
    parser.add_argument("--start", type=Path, help="an SFT checkpoint to start from (skips step 1)")
    parser.add_argument("--task", choices=sorted(TASKS), default="countdown", help="the task both arms train on")
    parser.add_argument("--sft-steps", type=int,
                        help="steps of the mediocre SFT start (countdown: 20000, the whole schedule; sudoku4: 200)")
    parser.add_argument("--budget-seconds", type=float, default=1200.0, help="training time of each run")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="what the budget counts: the arm's CPU seconds (default) or wall seconds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each arm")
    parser.add_argument("--curve-seconds", type=float, default=120.0, help="a checkpoint for the curve every N s")
    parser.add_argument("--eval-puzzles", type=int, default=200)
    parser.add_argument("--grpo-batch", type=int, default=4, help="prompts per GRPO step")
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--num-iterations", type=int, default=2, help="inner updates per rollout (d1: 12)")
    parser.add_argument("--grpo-lr", type=float, default=2e-4, help="GRPO's peak learning rate")
    parser.add_argument("--lr-schedule", choices=("anneal", "constant"), default="anneal",
                        help="both arms: anneal falls linearly from the peak to 0 over the budget")
    parser.add_argument("--rollout-steps", type=int,
                        help="sampler steps of GRPO's rollouts (default: half the answer tokens, two a step as "
                             "d1's; the held-out scoring commits one a step)")
    parser.add_argument("--sft-lr", type=float,
                        help="continued SFT's peak learning rate (default: GRPO's; the demo's 2e-3 undoes the start)")
    parser.add_argument("--beta", type=float, default=0.01, help="KL weight (d1: 0.01)")
    parser.add_argument("--p-mask-prompt", type=float, default=0.15, help="chance each prompt token is masked when scoring")
    parser.add_argument("--logp-estimator", choices=get_args(LogpEstimator), default="trajectory",
                        help="GRPO's log-probability estimate (docs/rl.md)")
    parser.add_argument("--trajectory-shrinkage", type=int, default=8,
                        help="--logp-estimator trajectory: sampler steps scored by one canvas")
    parser.add_argument("--temperature", type=float, default=1.0, help="GRPO sampling temperature")
    parser.add_argument("--extra-reward", default="", help="comma-separated rewards added to the checker")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arms", default="grpo,sft",
                        help="the arms to train; another arm's results are read from an earlier run's arm-NAME.json")
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)  # one arm, in a child process
    args = parser.parse_args(argv)
    if not args.arms.split(",") or set(args.arms.split(",")) - set(ARMS):
        parser.error(f"--arms takes names from {', '.join(ARMS)}")
    return args


def main() -> None:
    args = parse_args()
    run = args.arms.split(",")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.arm:
        run_arm(args.arm, args)
        return

    from dllm_core.session import InferenceSession

    rl_task = TASKS[args.task]
    held_out = HeldOut.of(rl_task, args.eval_puzzles)
    start = args.start
    if start is None:
        started = time.perf_counter()
        start = train_start(rl_task, args.sft_steps or rl_task.default_sft_steps, args.seed, args.output_dir / "start")
        print(f"SFT start: {time.perf_counter() - started:.0f} s")
    result: dict[str, Any] = {"task": args.task, "start": str(start), "eval_puzzles": args.eval_puzzles,
                              "clock": args.clock, "threads": args.threads, "budget_seconds": args.budget_seconds,
                              "start_headroom": held_out.headroom(InferenceSession.load(start, generator="llada"),
                                                                  args.num_generations, args.temperature)}
    result["start_solve_rate"] = result["start_headroom"]["greedy"]
    print(f"start solve rate: {100 * result['start_solve_rate']:.1f}%; at the GRPO temperature "
          f"{args.temperature}, {args.num_generations} samples: " +
          ", ".join(f"{name} {100 * share:.1f}%" for name, share in result["start_headroom"].items()))
    children = [subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--start", str(start), "--arm", name])
                for name in run]  # side by side, each on its own threads
    if any(child.wait() != 0 for child in children):
        raise SystemExit("an arm failed; its output is above")
    for name in ARMS:
        earlier = args.output_dir / f"arm-{name}.json"
        if name not in run and not earlier.is_file():
            continue  # an arm neither trained now nor earlier
        result[name] = json.loads(earlier.read_text())
        print(f"{name}: {result[name]['steps']} steps in {args.budget_seconds:.0f} {args.clock} s, solve rate "
              f"{100 * result[name]['solve_rate']:.1f}%  curve "
              f"{[(p['seconds'], p['solve_rate']) for p in result[name]['curve']]}")
    (args.output_dir / "rl.json").write_text(json.dumps(result, indent=2))
    plot(result, args.output_dir / "rl_curves.png")
    finals = ", ".join(f"{name} {100 * result[name]['solve_rate']:.1f}%" for name in ARMS if name in result)
    print(f"start {100 * result['start_solve_rate']:.1f}% -> {finals}  ({args.output_dir / 'rl.json'})")


if __name__ == "__main__":
    main()
