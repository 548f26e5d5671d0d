"""``dllm train``: train a diffusion LM from a size preset or fine-tune a checkpoint.

    dllm train --family llada --preset tiny --data "sudoku4[train:20000]" --output-dir runs/x
    dllm train --model runs/x --mode sft --data chat.jsonl --output-dir runs/y
    dllm train --accelerate-config zero2 --num-processes 8 --family llada --preset 1b ...
    dllm train --model runs/x --lora --load-in-4bit --data chat.jsonl --output-dir runs/qlora

With more than one process (or an --accelerate-config), the command re-launches itself under
``accelerate launch`` (:mod:`dllm_core.training.launcher`); see docs/scaling.md.

Imports torch/transformers only when the command runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dllm_core.errors import DllmError

if TYPE_CHECKING:
    from dllm_core.training.adapters import LoraOptions
    from dllm_core.training.launch import TrainRunResult
    from dllm_core.training.launcher import LaunchOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("model")
    model.add_argument("--family", help="model family (dllm list families); implied by --model")
    model.add_argument("--preset", help="size preset to train from scratch (e.g. tiny)")
    model.add_argument("--backbone", help="family whose model a wrapping family trains on (e.g. "
                                          "--family editflow --backbone llada); the preset is the backbone's")
    model.add_argument("--model", help="checkpoint folder to fine-tune (or a LoRA adapter folder)")
    data = parser.add_argument_group("data")
    data.add_argument("--data", required=True, help="dataset spec, e.g. 'sudoku4[train:20000,test:200]'")
    data.add_argument("--mode", choices=("sft", "pt"), default="sft",
                      help="sft: chat turns, prompt never masked; pt: packed text blocks")
    data.add_argument("--max-length", type=int, default=256, help="SFT max tokens / PT block size")
    data.add_argument("--sft-padding", choices=("ignore", "eos"),
                      help="SFT: pad shorter answers with ignored pad tokens, or with EOS that is "
                           "trained on (LLaDA's recipe); default: the family's")
    objective = parser.add_argument_group("objective")
    objective.add_argument("--objective", help="objective name (default: the family's)")
    objective.add_argument("--schedule", help="schedule name (dllm list schedules); default: the objective's")
    objective.add_argument("--weighting", choices=("schedule", "uniform", "cart"),
                           help="loss weighting: the schedule's w(t) (default), 1, or Dream's CART")
    objective.add_argument("--objective-option", action="append", default=[], metavar="KEY=VALUE",
                           help="another field of the objective's config, e.g. source=prompt for editflow "
                                "(VALUE is read as JSON when it parses, else as text; repeatable)")
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
    run.add_argument("--save-total-limit", type=int, help="keep only the newest N checkpoint-N folders")
    run.add_argument("--streaming", action="store_true",
                     help="--mode pt: read, tokenize and pack the data while training (needs --max-steps)")
    scale = parser.add_argument_group("scale (accelerate; docs/scaling.md)")
    scale.add_argument("--accelerate-config", metavar="NAME_OR_YAML",
                       help="cpu, ddp, zero1, zero2, zero3, fsdp2, or the path of an accelerate config file")
    scale.add_argument("--num-processes", type=int, help="processes over all machines (one per GPU)")
    scale.add_argument("--num-machines", type=int, help="machines taking part (multi-node)")
    scale.add_argument("--machine-rank", type=int, help="this machine's rank, 0 .. num-machines - 1")
    scale.add_argument("--main-process-ip", help="address of the machine of rank 0")
    scale.add_argument("--main-process-port", type=int, help="port of the rendezvous on rank 0")
    lora = parser.add_argument_group("LoRA and 4-bit (pip install 'dllm-core[lora,quant]')")
    lora.add_argument("--lora", action="store_true", help="train a LoRA adapter of --model instead of all weights")
    lora.add_argument("--lora-r", type=int, default=16, help="adapter rank")
    lora.add_argument("--lora-alpha", type=float, default=32.0, help="the update is scaled by alpha / r")
    lora.add_argument("--lora-dropout", type=float, default=0.05)
    lora.add_argument("--lora-target-modules", default="all-linear",
                      help="comma-separated module names, or all-linear (default)")
    lora.add_argument("--lora-modules-to-save", default="",
                      help="comma-separated modules trained in full and saved with the adapter")
    lora.add_argument("--load-in-4bit", action="store_true",
                      help="load --model in 4-bit NF4 (double quantisation) and train a LoRA adapter (QLoRA)")


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def lora_options(args: argparse.Namespace) -> LoraOptions | None:
    """The adapter asked for with --lora (implied by --load-in-4bit), else ``None``."""
    from dllm_core.training.adapters import LoraOptions

    if not (args.lora or args.load_in_4bit):
        return None
    return LoraOptions(rank=args.lora_r, alpha=args.lora_alpha, dropout=args.lora_dropout,
                       target_modules=_names(args.lora_target_modules),
                       modules_to_save=_names(args.lora_modules_to_save))


def launch_options(args: argparse.Namespace) -> LaunchOptions:
    from dllm_core.training.launcher import LaunchOptions

    return LaunchOptions(accelerate_config=args.accelerate_config, num_processes=args.num_processes,
                         num_machines=args.num_machines, machine_rank=args.machine_rank,
                         main_process_ip=args.main_process_ip, main_process_port=args.main_process_port)


def check_arguments(args: argparse.Namespace) -> None:
    """What can be checked before any process starts: names, data spec, optional extras."""
    from dllm_core.data.spec import parse_dataset_spec
    from dllm_core.registry import get_registry
    from dllm_core.training.adapters import check_adapter_extras

    if args.preset and args.model:
        raise DllmError("--preset trains from scratch and --model fine-tunes: give one of them")
    if (args.lora or args.load_in_4bit) and args.model is None:
        raise DllmError("--lora and --load-in-4bit adapt a trained checkpoint: pass --model PATH")
    if args.streaming and (args.mode != "pt" or args.max_steps <= 0):
        raise DllmError("--streaming packs pretraining text of unknown length: use it with --mode pt --max-steps N")
    if args.family is not None:
        get_registry().families.get(args.family)
    parse_dataset_spec(args.data)
    check_adapter_extras(lora_options(args), args.load_in_4bit)


def parse_options(items: list[str]) -> dict[str, Any]:
    """``["source=prompt", "max_weight=10"]`` -> ``{"source": "prompt", "max_weight": 10}``."""
    options: dict[str, Any] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise DllmError(f"--objective-option {item!r}: write KEY=VALUE, e.g. source=prompt")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    fields = dict(
        data=args.data, output_dir=args.output_dir, family=args.family, preset=args.preset,
        backbone=args.backbone, model=args.model, mode=args.mode, objective=args.objective, schedule=args.schedule,
        weighting=args.weighting, objective_options=parse_options(args.objective_option),
        sft_padding=args.sft_padding, max_length=args.max_length, max_steps=args.max_steps, num_train_epochs=args.num_train_epochs,
        batch_size=args.batch_size, gradient_accumulation_steps=args.gradient_accumulation_steps,
        learning_rate=args.learning_rate, weight_decay=args.weight_decay, warmup_ratio=args.warmup_ratio,
        lr_scheduler_type=args.lr_scheduler_type, logging_steps=args.logging_steps,
        save_steps=args.save_steps, eval_steps=args.eval_steps, seed=args.seed, bf16=args.bf16,
        gradient_checkpointing=args.gradient_checkpointing, report_to=args.report_to,
        resume=args.resume, disable_progress_bar=args.no_progress, save_total_limit=args.save_total_limit,
        streaming=args.streaming, lora=lora_options(args), load_in_4bit=args.load_in_4bit,
    )
    launch = launch_options(args)
    from dllm_core.training.launcher import inside_launcher, relaunch

    if launch.wanted() and not inside_launcher():
        from dllm_core.training.worker import encode_fields

        return relaunch(launch, encode_fields(fields))
    from dllm_core.training.launch import TrainRunConfig, run_training

    result = run_training(TrainRunConfig(**fields))
    if result.main_process:
        print_result(result)
    return 0


def print_result(result: TrainRunResult) -> None:
    """The run's metrics, where its checkpoint is, and what to run next."""
    for name, value in sorted({**result.train_metrics, **result.eval_metrics}.items()):
        print(f"{name}: {value:.4g}" if isinstance(value, float) else f"{name}: {value}")
    print(f"processes: {result.processes}")
    print(f"checkpoint: {result.checkpoint}  (loss curve: {result.checkpoint / 'loss_curve.png'})")
    print(f"next: dllm sample {result.checkpoint} --prompt \"...\"")
