"""``dllm chat CKPT``: a multi-turn chat in the terminal, through the family's chat template.

Commands typed at the prompt: ``/reset`` forgets the conversation, ``/quit`` (or end of input)
leaves. Generation options are those of ``dllm sample`` (e.g. ``--show-denoising`` replays each
answer's canvas step by step); any registered generator works, Edit Flows included.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dllm_core.cli.generation_options import add_generation_arguments, open_session


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="checkpoint or LoRA adapter folder")
    parser.add_argument("--system", help="system message opening the conversation")
    add_generation_arguments(parser)


def run(args: argparse.Namespace) -> int:
    session, params, options = open_session(args)
    opening = [{"role": "system", "content": args.system}] if args.system else []
    history = list(opening)
    print(f"dllm chat: {session.family.name} model, {session.generator.name} sampler. /reset clears, /quit leaves.")
    turn = 0
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
        answer = session.reply(history, params, seed=args.seed + turn, options=options)
        turn += 1
        session.generator.show_row(session, answer.generation, answer.row, options)
        history.append({"role": "assistant", "content": answer.text})
        print(f"dllm> {answer.text}")
        sys.stdout.flush()
