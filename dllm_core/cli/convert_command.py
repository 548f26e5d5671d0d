"""``dllm convert --from-ar PATH --output DIR``: an autoregressive checkpoint becomes a diffusion one.

The target family is chosen among the installed families that declare an ``ar_converter``
(:func:`dllm_core.conversion.converter_family`): ``--family`` names one; otherwise
``--objective`` (default ``masked-diffusion``) picks the family whose default objective it is,
e.g. ``--objective block-diffusion`` for an A2D-style block-diffusion model. The family's
converter does the work (see :mod:`dllm_core.conversion`); torch and transformers are imported
only when the command runs, so ``dllm --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dllm_core.conversion import DEFAULT_OBJECTIVE, ConvertRequest, ConvertResult, converter_family
from dllm_core.registry import load_reference


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-ar", required=True, type=Path, dest="source",
                        help="folder of the autoregressive checkpoint (a Hugging Face causal LM)")
    parser.add_argument("--output", required=True, type=Path, help="new folder for the converted checkpoint")
    parser.add_argument("--family", default=None,
                        help="diffusion family to convert into (one that declares an AR converter; "
                             "default: the one for --objective)")
    parser.add_argument("--objective", default=None,
                        help=f"objective the checkpoint will be trained with; picks the family whose default "
                             f"it is (default: {DEFAULT_OBJECTIVE}, or the --family's own)")
    parser.add_argument("--block-size", type=int, default=None,
                        help="tokens per block, for block-diffusion targets (default: the family's)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --output folder")


def next_step(result: ConvertResult) -> str:
    """The ``dllm train`` line that continues from the converted checkpoint (its objective and
    block size come from its ``dllm.json``)."""
    return f"dllm train --model {result.output} --data ... --output-dir ..."


def run(args: argparse.Namespace) -> int:
    family = converter_family(args.family, args.objective)
    request = ConvertRequest(source=args.source, output=args.output, overwrite=args.overwrite,
                             block_size=args.block_size)
    result: ConvertResult = load_reference(family.ar_converter)(request)
    added = ", ".join(result.added_tokens) or "none"
    print(f"family: {result.family} (model_type {result.model_type})")
    print(f"vocabulary: {result.vocab_size} rows (added tokens: {added}; mask id {result.mask_token_id})")
    if result.zero_filled:
        print(f"zero-initialised (absent in the source): {len(result.zero_filled)} tensors")
    print(f"checkpoint: {result.output}")
    print(f"next: {next_step(result)}")
    return 0
