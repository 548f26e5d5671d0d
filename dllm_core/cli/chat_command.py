"""``dllm chat CKPT``: a multi-turn chat in the terminal, through the family's chat template.

Commands typed at the prompt: ``/reset`` forgets the conversation, ``/quit`` (or end of input)
leaves. A message may span lines (a sudoku grid, code): end a line with ``\\`` to continue on
the next one, or put ``\"\"\"`` alone on the lines before and after a pasted block; ``\\n`` in a
line is a line break too, as in ``dllm sample --prompt``. Generation options are those of
``dllm sample`` (e.g. ``--show-denoising`` replays each answer's canvas step by step); any
registered generator works, Edit Flows included.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from dllm_core.cli.generation_options import add_generation_arguments, open_session

#: a line holding only this opens and closes a pasted block of lines
BLOCK_FENCE = '"""'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="checkpoint or LoRA adapter folder")
    parser.add_argument("--system", help="system message opening the conversation")
    add_generation_arguments(parser)


def read_message(read: Callable[[str], str] = input) -> str:
    """One message from ``read`` (``input``): a line, or several joined by newlines (a line
    ending in a backslash continues; lines between two :data:`BLOCK_FENCE` lines are taken as
    they are); ``\\n`` escapes become newlines. Raises ``EOFError`` at end of input."""
    first = read("you> ")
    if first.strip() == BLOCK_FENCE:
        lines = []
        while (line := read("... ")).strip() != BLOCK_FENCE:
            lines.append(line)
        return "\n".join(lines)
    lines = [first]
    while lines[-1].endswith("\\"):
        lines[-1] = lines[-1][:-1]
        lines.append(read("... "))
    return "\n".join(lines).replace("\\n", "\n")


def run(args: argparse.Namespace) -> int:
    session, params, options = open_session(args)
    opening = [{"role": "system", "content": args.system}] if args.system else []
    history = list(opening)
    print(f"dllm chat: {session.family.name} model, {session.generator.name} sampler. /reset clears, /quit leaves; "
          'end a line with \\ to go on, or paste lines between two """ lines.')
    turn = 0
    while True:
        try:
            text = read_message().strip()
        except EOFError:
            print()
            return 0
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
