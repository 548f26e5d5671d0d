"""``dllm convert --from-ar PATH --family dream --output DIR``: an AR checkpoint as a diffusion model.

Copies the weights of a Qwen2, Qwen3 or Llama causal LM into the family's model, adds the mask
(and BOS) token to the tokenizer with mean-initialised embedding rows, and writes a checkpoint
with its ``dllm.json`` (see :mod:`dllm_core.convert`). Imports torch/transformers only when it
runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-ar", required=True, type=Path, dest="source",
                        help="folder of the autoregressive checkpoint (a Qwen2, Qwen3 or Llama causal LM)")
    parser.add_argument("--family", required=True, help="diffusion family to convert into (e.g. dream)")
    parser.add_argument("--output", required=True, type=Path, help="folder to write the converted checkpoint to")


def run(args: argparse.Namespace) -> int:
    from dllm_core.convert import ConvertConfig, convert_from_ar

    result = convert_from_ar(ConvertConfig(source=args.source, family=args.family, output=args.output))
    added = ", ".join(result.added_tokens) or "none"
    print(f"vocabulary: {result.vocab_size} rows (added tokens: {added}; mask id {result.mask_token_id})")
    if result.zero_filled:
        print(f"zero-initialised (absent in the source): {len(result.zero_filled)} bias tensors")
    print(f"checkpoint: {result.output}")
    print(f"next: dllm train --model {result.output} --data ... --output-dir ...")
    return 0
