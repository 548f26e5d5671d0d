"""``dllm train``: train a diffusion LM from a size preset or fine-tune a checkpoint.

    dllm train --family llada --preset tiny --data "sudoku4[train:20000]" --output-dir runs/x
    dllm train --model runs/x --mode sft --data chat.jsonl --output-dir runs/y

Imports torch/transformers only when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dllm_core.registry import DllmError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("model")
    model.add_argument("--family", help="model family (dllm list families); implied by --model")
    model.add_argument("--preset", help="size preset to train from scratch (e.g. tiny)")
    model.add_argument("--model", help="checkpoint folder to fine-tune (or a LoRA adapter folder)")
    data = parser.add_argument_group("data")
    data.add_argument("--data", required=True, help="dataset spec, e.g. 'sudoku4[train:20000,test:200]'")
    data.add_argument("--mode", choices=("sft", "pt"), default="sft",
                      help="sft: chat turns, prompt never masked; pt: packed text blocks")
    data.add_argument("--max-length", type=int, default=256, help="SFT max tokens / PT block size")
    objective = parser.add_argument_group("objective")
    objective.add_argument("--objective", help="objective name (default: the family's)")
    objective.add_argument("--schedule", default="linear", help="noise schedule name (dllm list schedules)")
    objective.add_argument("--weighting", choices=("schedule", "uniform", "cart"),
                           help="loss weighting: the schedule's w(t) (default), 1, or Dream's CART")
    run = parser.add_argument_group("run")
    run.add_argument("--output-dir", required=True, type=Path)
    run.add_argument("--max-steps", type=int, default=-1)
    run.add_argument("--num-train-epochs", type=float, default=1.0)
    run.add_argument("--batch-size", type=int, default=16, help="per-device batch size")
    run.add_argument("--gradient-accumulation-steps", type=int, default=1)
    run.add_argument("--learning-rate", type=float, default=1e-3)
    run.add_argument("--weight-decay", type=float, default=0.0)
    run.add_argument("--warmup-ratio", type=float, default=0.0)
    run.add_argument("--lr-scheduler-type", default="linear")
    run.add_argument("--logging-steps", type=int, default=10)
    run.add_argument("--save-steps", type=int, help="also keep Trainer checkpoints every N steps")
    run.add_argument("--eval-steps", type=int, help="evaluate every N steps (default: at the end)")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--bf16", action="store_true")
    run.add_argument("--gradient-checkpointing", action="store_true")
    run.add_argument("--report-to", default="none", help="none, tensorboard, wandb, ...")
    run.add_argument("--resume", action="store_true", help="continue from the newest checkpoint-N in --output-dir")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    if args.preset and args.model:
        raise DllmError("--preset trains from scratch and --model fine-tunes: give one of them")
    from dllm_core.training.launch import TrainRunConfig, run_training

    config = TrainRunConfig(
        data=args.data, output_dir=args.output_dir, family=args.family, preset=args.preset,
        model=args.model, mode=args.mode, objective=args.objective, schedule=args.schedule,
        weighting=args.weighting,
        max_length=args.max_length, max_steps=args.max_steps, num_train_epochs=args.num_train_epochs,
        batch_size=args.batch_size, gradient_accumulation_steps=args.gradient_accumulation_steps,
        learning_rate=args.learning_rate, weight_decay=args.weight_decay, warmup_ratio=args.warmup_ratio,
        lr_scheduler_type=args.lr_scheduler_type, logging_steps=args.logging_steps,
        save_steps=args.save_steps, eval_steps=args.eval_steps, seed=args.seed, bf16=args.bf16,
        gradient_checkpointing=args.gradient_checkpointing, report_to=args.report_to,
        resume=args.resume, disable_progress_bar=args.no_progress,
    )
    result = run_training(config)
    for name, value in sorted({**result.train_metrics, **result.eval_metrics}.items()):
        print(f"{name}: {value:.4g}" if isinstance(value, float) else f"{name}: {value}")
    print(f"checkpoint: {result.checkpoint}  (loss curve: {result.checkpoint / 'loss_curve.png'})")
    print(f"next: dllm sample {result.checkpoint} --prompt \"...\"")
    return 0
