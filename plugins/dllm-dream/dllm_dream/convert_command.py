"""``dllm convert --from-ar PATH --output DIR``: an AR checkpoint becomes a Dream checkpoint.

Registered by the dllm-dream plugin. Copies the weights of a Qwen2, Qwen3 or Llama causal LM
into Dream's model, adds the mask (and BOS) token to the tokenizer with mean-initialised rows,
and writes a checkpoint with its ``dllm.json`` (see :mod:`dllm_dream.convert`). ``--family``
is still accepted for scripts written when the command lived in the core; only ``dream`` is
valid. torch and transformers are imported only when the command runs, so ``dllm --help``
stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dllm_core.api import DllmError

#: the one family this command converts into
TARGET_FAMILY = "dream"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-ar", required=True, type=Path, dest="source",
                        help="folder of the autoregressive checkpoint (a Qwen2, Qwen3 or Llama causal LM)")
    parser.add_argument("--family", default=TARGET_FAMILY,
                        help="diffusion family to convert into; only 'dream' (the default) is supported")
    parser.add_argument("--output", required=True, type=Path, help="folder to write the converted checkpoint to")


def run(args: argparse.Namespace) -> int:
    if args.family != TARGET_FAMILY:
        raise DllmError(f"dllm convert --from-ar converts into the {TARGET_FAMILY} family only (it comes "
                        f"with the dllm-dream plugin), not {args.family!r}; drop --family or pass "
                        f"--family {TARGET_FAMILY}")
    from dllm_dream.convert import ConvertConfig, convert_from_ar

    result = convert_from_ar(ConvertConfig(source=args.source, output=args.output))
    added = ", ".join(result.added_tokens) or "none"
    print(f"vocabulary: {result.vocab_size} rows (added tokens: {added}; mask id {result.mask_token_id})")
    if result.zero_filled:
        print(f"zero-initialised (absent in the source): {len(result.zero_filled)} bias tensors")
    print(f"checkpoint: {result.output}")
    print(f"next: dllm train --model {result.output} --data ... --output-dir ...")
    return 0
