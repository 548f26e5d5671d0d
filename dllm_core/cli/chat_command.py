"""``dllm chat CKPT``: a multi-turn chat in the terminal, through the family's chat template.

Commands typed at the prompt: ``/reset`` forgets the conversation, ``/quit`` (or end of input)
leaves. ``--show-denoising`` replays each answer's canvas step by step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dllm_core.cli.sample_command import add_generation_arguments, generation_overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="checkpoint or LoRA adapter folder")
    parser.add_argument("--system", help="system message opening the conversation")
    add_generation_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import torch

    from dllm_core.cli.denoising_view import StepRecorder, replay
    from dllm_core.sampling import Sampler

    overrides = generation_overrides(args)
    sampler = Sampler.from_checkpoint(args.checkpoint, preset=args.preset, device=args.device)
    generator = torch.Generator(device=sampler.model.device).manual_seed(args.seed)
    opening = [{"role": "system", "content": args.system}] if args.system else []
    history = list(opening)
    print(f"dllm chat: {sampler.family.name} model, {sampler.preset} sampler. /reset clears, /quit leaves.")
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print()
            return 0
        text = line.strip()
        if not text:
            continue
        if text == "/quit":
            return 0
        if text == "/reset":
            history = list(opening)
            print("(conversation cleared)")
            continue
        history.append({"role": "user", "content": text})
        recorder = StepRecorder() if args.show_denoising else None
        rows = sampler.encode([sampler.render_chat(history)])
        output, lengths, start = sampler.generate_ids(rows, overrides, callback=recorder, generator=generator)
        region_start = lengths[0] if start is None else start
        answer_ids = sampler.answer_ids(output.sequences[0].tolist(), region_start)
        if recorder is not None:
            replay(recorder, sampler.tokenizer, sampler.special.mask_token_id, start=region_start)
        answer = sampler.decode(answer_ids)
        history.append({"role": "assistant", "content": answer})
        print(f"dllm> {answer}")
        sys.stdout.flush()
