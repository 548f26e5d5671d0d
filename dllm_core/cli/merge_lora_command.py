"""``dllm merge-lora ADAPTER --output DIR``: a LoRA adapter merged into a full checkpoint.

The result loads without peft wherever a checkpoint is accepted (``dllm sample``, ``chat``,
``eval``, ``train --model``). Imports torch/transformers/peft only when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("adapter", type=Path, help="LoRA adapter folder (written by dllm train --lora)")
    parser.add_argument("--output", required=True, type=Path, help="new folder for the merged checkpoint")


def run(args: argparse.Namespace) -> int:
    from dllm_core.training.adapters import require
    from dllm_core.training.merge import merge_lora

    require("peft", "merge-lora")
    output = merge_lora(args.adapter, args.output)
    print(f"checkpoint: {output}")
    print(f"next: dllm sample {output} --prompt \"...\"")
    return 0
