"""``dllm sample CKPT --prompt "..."``: generate completions from a checkpoint.

Defaults (preset and its parameters) come from the checkpoint's ``dllm.json`` or its family;
``--preset``, ``--steps``, ``--gen-length``, ``--block-length``, ``--use-cache``, ``--threshold``
... override them. ``--show-denoising`` replays the canvas step by step.

A registered generator with its own loop (one with a ``complete`` method, e.g. ``editflow``)
generates instead of the masked-diffusion presets; ``--show-edits`` prints its insertions,
deletions and substitutions in colour and ``--save-animation out.gif`` (or ``.html``) animates them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dllm_core.errors import DllmError


def add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    """Generator overrides shared by ``sample`` and ``chat``."""
    group = parser.add_argument_group("generation (defaults from dllm.json or the family)")
    group.add_argument("--preset", help="generator preset: llada, fastdllm, dream, mdlm, ...")
    group.add_argument("--steps", type=int)
    group.add_argument("--gen-length", type=int, help="tokens to generate")
    group.add_argument("--block-length", type=int, help="semi-autoregressive block size")
    group.add_argument("--temperature", type=float)
    group.add_argument("--use-cache", choices=("none", "prefix", "dual"), help="KV cache (fastdllm preset)")
    group.add_argument("--threshold", type=float, help="confidence threshold (Fast-dLLM)")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--show-denoising", action="store_true", help="replay the canvas step by step")
    group.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cpu)")


def generation_overrides(args: argparse.Namespace) -> dict:
    overrides = {"steps": args.steps, "gen_length": args.gen_length, "block_length": args.block_length,
                 "temperature": args.temperature, "threshold": args.threshold}
    if args.use_cache is not None:
        overrides["use_cache"] = None if args.use_cache == "none" else args.use_cache
        if args.preset is None:
            args.preset = "fastdllm"
    return overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="checkpoint or LoRA adapter folder")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", action="append", help="a prompt (repeat for a batch)")
    source.add_argument("--prompts-file", type=Path, help="a text file, one prompt per line")
    parser.add_argument("--chat", action="store_true", help="wrap each prompt as a user turn (chat template)")
    add_generation_arguments(parser)
    edits = parser.add_argument_group("edit-based generators (editflow)")
    edits.add_argument("--show-edits", action="store_true",
                       help="print each step's insertions, deletions and substitutions in colour")
    edits.add_argument("--save-animation", type=Path, metavar="PATH", help="write the edits as a .gif or .html")


def read_prompts(args: argparse.Namespace) -> list[str]:
    if args.prompt:
        return [p.replace("\\n", "\n") for p in args.prompt]
    try:
        lines = args.prompts_file.read_text().splitlines()
    except OSError as exc:
        raise DllmError(f"cannot read --prompts-file {args.prompts_file}: {exc.strerror}") from None
    prompts = [line.replace("\\n", "\n") for line in lines if line.strip()]
    if not prompts:
        raise DllmError(f"{args.prompts_file} holds no prompt; write one prompt per line")
    return prompts


def run(args: argparse.Namespace) -> int:
    import torch

    from dllm_core.cli.denoising_view import StepRecorder, replay
    from dllm_core.registry import get_registry
    from dllm_core.sampling import Sampler

    prompts = read_prompts(args)
    overrides = generation_overrides(args)
    sampler = Sampler.from_checkpoint(args.checkpoint, preset=args.preset, device=args.device)
    own_loop = get_registry().generators.get(sampler.preset)
    if hasattr(own_loop, "complete"):
        return _run_own_loop(args, sampler, own_loop, prompts, overrides)
    if args.show_edits or args.save_animation:
        raise DllmError(f"--show-edits and --save-animation need an edit-based generator (e.g. editflow); "
                        f"'{sampler.preset}' records no edits")
    recorder = StepRecorder() if args.show_denoising else None
    generator = torch.Generator(device=sampler.model.device).manual_seed(args.seed)
    completions = sampler.complete(prompts, chat=args.chat, overrides=overrides, callback=recorder,
                                   generator=generator)
    for index, (prompt, completion) in enumerate(zip(prompts, completions)):
        if recorder is not None:
            replay(recorder, sampler.tokenizer, sampler.special.mask_token_id, row=index,
                   start=completion.region_start)
        print(f"### prompt {index + 1} (nfe {completion.nfe})\n{prompt}\n### completion\n{completion.text}\n")
    return 0


def _run_own_loop(args: argparse.Namespace, sampler: Any, generator: Any, prompts: list[str],
                  overrides: dict) -> int:
    """Generate with a generator that runs its own loop (``complete``, ``show_edits``, ``save_animation``)."""
    if args.show_denoising:
        raise DllmError(f"--show-denoising replays masked-diffusion steps; for '{sampler.preset}' use --show-edits")
    record = bool(args.show_edits or args.save_animation)
    completions = generator.complete(sampler, prompts, chat=args.chat, overrides=overrides, seed=args.seed,
                                     record_history=record, checkpoint=args.checkpoint)
    for index, (prompt, completion) in enumerate(zip(prompts, completions)):
        if args.show_edits:
            generator.show_edits(completions, sampler.tokenizer, index)
        print(f"### prompt {index + 1} (nfe {completion.nfe})\n{prompt}\n### completion\n{completion.text}\n")
    if args.save_animation:
        print(f"animation: {generator.save_animation(completions, sampler.tokenizer, args.save_animation)}")
    return 0
