"""``dllm sample CKPT --prompt "..."``: generate completions from a checkpoint.

The checkpoint's generator and defaults come from its ``dllm.json``, ``generation_config.json``
or family (:class:`dllm_core.session.InferenceSession`); ``--preset``, ``--steps``,
``--gen-length``, ``--block-length``, ``--use-cache``, ``--threshold``, ``--param KEY=VALUE``
override them (:mod:`dllm_core.cli.generation_options`). Options a generator declares itself
(``--show-denoising`` for the masked-diffusion presets, ``--show-edits`` and
``--save-animation`` for Edit Flows) are shown per answer by that generator.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dllm_core.cli.generation_options import add_generation_arguments, open_session
from dllm_core.errors import DllmError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="checkpoint or LoRA adapter folder")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", action="append", help="a prompt (repeat for a batch)")
    source.add_argument("--prompts-file", type=Path, help="a text file, one prompt per line")
    parser.add_argument("--chat", action="store_true", help="wrap each prompt as a user turn (chat template)")
    add_generation_arguments(parser)


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
    prompts = read_prompts(args)
    session, params, options = open_session(args)
    completions = session.complete(prompts, params, chat=args.chat, seed=args.seed, options=options)
    for index, (prompt, completion) in enumerate(zip(prompts, completions)):
        session.generator.show_row(session, completion.generation, completion.row, options)
        print(f"### prompt {index + 1} (nfe {completion.nfe})\n{prompt}\n### completion\n{completion.text}\n")
    generations = {id(c.generation): c.generation for c in completions}
    for generation in generations.values():
        for line in session.generator.finish(session, generation, options):
            print(line)
    return 0
