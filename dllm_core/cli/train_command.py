"""``dllm train``: train a diffusion LM from a size preset or fine-tune a checkpoint.

    dllm train --family llada --preset tiny --data "sudoku4[train:20000]" --output-dir runs/x
    dllm train --model runs/x --mode sft --data chat.jsonl --output-dir runs/y
    dllm train --accelerate-config zero2 --num-processes 8 --family llada --preset 1b ...
    dllm train --model runs/x --lora --load-in-4bit --data chat.jsonl --output-dir runs/qlora

The options are the fields of :class:`~dllm_core.training.run_config.TrainRunConfig` and of
:class:`~dllm_core.training.launcher.LaunchOptions` (:mod:`dllm_core.dataclass_options`). With more
than one process (or an --accelerate-config), the command re-launches itself under
``accelerate launch`` (:mod:`dllm_core.training.launcher`); see docs/scaling.md.

Imports torch/transformers only when the command runs.
"""

from __future__ import annotations

import argparse

from dllm_core.dataclass_options import add_options, from_namespace, to_json
from dllm_core.training.launcher import LaunchOptions
from dllm_core.training.run_config import TrainRunConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, TrainRunConfig)
    add_options(parser, LaunchOptions)


def run(args: argparse.Namespace) -> int:
    """Train in this process, or check the run and launch the processes that train it."""
    from dllm_core.training.launcher import inside_launcher, relaunch, resolve_launch
    from dllm_core.training.report import print_result
    from dllm_core.training.run import plan_run_resume, prepare_run, run_training

    config = from_namespace(TrainRunConfig, args)
    launch = from_namespace(LaunchOptions, args)
    launch.check()
    if launch.wanted() and not inside_launcher():
        resolve_launch(launch)  # the accelerate config and its extras, before the run's own checks
        prepare_run(config)  # names, options, data spec, output folder: before any worker starts
        plan_run_resume(config)  # --resume of another run, changed settings, a damaged checkpoint
        return relaunch(launch, to_json(config))
    result = run_training(config)
    if result.main_process:
        print_result(result)
    return 0
