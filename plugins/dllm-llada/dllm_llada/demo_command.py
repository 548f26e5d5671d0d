"""``dllm demo``: the main job on the embedded default (see :mod:`dllm_llada.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dllm_llada.demo import DemoConfig

    defaults = DemoConfig()
    parser.add_argument("--output-dir", type=Path, default=defaults.output_dir)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--max-steps", type=int, default=defaults.max_steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--eval-puzzles", type=int, default=defaults.eval_puzzles)
    parser.add_argument("--min-solve-rate", type=float, default=None,
                        help="exit with 1 when the held-out solve rate is below this fraction")


def run(args: argparse.Namespace) -> int:
    from dllm_llada.demo import DemoConfig, run_demo

    config = DemoConfig(output_dir=args.output_dir, seed=args.seed, max_steps=args.max_steps,
                        batch_size=args.batch_size, learning_rate=args.learning_rate,
                        eval_puzzles=args.eval_puzzles)
    solve_rate = run_demo(config)
    if args.min_solve_rate is not None and solve_rate < args.min_solve_rate:
        print(f"solve rate {100 * solve_rate:.1f}% is below the required {100 * args.min_solve_rate:.1f}%")
        return 1
    return 0
