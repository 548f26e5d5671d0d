"""``dllm eval CKPT --tasks ...``: evaluate a checkpoint with lm-evaluation-harness.

Examples::

    dllm eval out/sudoku --tasks dllm_sudoku4 --limit 100          # offline, bundled task
    dllm eval GSAI-ML-LLaDA-8B-Base --suite standard --confirm-run-unsafe-code --batch-size 8
    dllm eval out/adapter --tasks gsm8k --num-fewshot 4 --model-args steps=256,mc_num=64

The family comes from the checkpoint; the results table is printed and, with ``--output-path``,
written with lm-eval's JSON and the per-sample logs. torch and lm-eval are imported only when
the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dllm_core.evaluation.bundled import BUNDLED_TASKS
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="checkpoint or LoRA adapter folder")
    parser.add_argument("--tasks", default="",
                        help=f"comma-separated lm-eval tasks or task YAML files; offline: {', '.join(BUNDLED_TASKS)}")
    parser.add_argument("--suite", help="; ".join(
        f"{entry.name}: {entry.metadata.get('description', '')}" for entry in get_registry().suites))
    parser.add_argument("--num-fewshot", type=int, help="shots for every task (default: each task's own)")
    parser.add_argument("--limit", type=_limit, help="documents per task (a fraction when below 1)")
    parser.add_argument("--batch-size", type=int, help="prompts per generate call (default 16); likelihood "
                        "forwards are sized by --model-args forward_tokens")
    parser.add_argument("--output-path", type=Path, help="folder for results.json, results.md and sample logs")
    parser.add_argument("--include-path", type=Path, action="append", default=[],
                        help="folder of extra task YAML files (repeatable)")
    parser.add_argument("--model-args", default="",
                        help="k=v,... : mc_num, mc_batch_size, forward_tokens, cfg_scale, greedy_check, max_length, "
                        "dtype, device, seed, generator and its parameters")
    parser.add_argument("--gen-kwargs", default="", help="k=v,... generation settings for every generative task")
    parser.add_argument("--apply-chat-template", action=argparse.BooleanOptionalAction, default=None,
                        help="render prompts with the chat template (default: only for bundled tasks and "
                             "suites that use it)")
    parser.add_argument("--confirm-run-unsafe-code", action="store_true",
                        help="allow tasks whose metric executes model-written code (humaneval, mbpp)")


def _limit(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return int(value) if value >= 1 and value.is_integer() else value


def _key_values(option: str, text: str) -> dict[str, Any]:
    """``k=v,...`` as lm-eval parses it (numbers and booleans typed); a part without ``=`` raises."""
    from lm_eval.utils import simple_parse_args_string

    bad = [part for part in text.split(",") if part and "=" not in part]
    if bad:
        raise DllmError(f"{option}: '{bad[0]}' is not key=value; pass key=value pairs separated by commas.")
    return simple_parse_args_string(text)


def run(args: argparse.Namespace) -> int:
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise DllmError("`dllm eval` needs lm-evaluation-harness: pip install 'dllm-core[eval]'") from None

    from dllm_core.evaluation.report import markdown_report
    from dllm_core.evaluation.runner import EvalConfig, evaluate
    from dllm_core.training.run import check_output_dir

    if args.output_path is not None:  # before the model loads and the tasks run
        check_output_dir(Path(args.output_path), "--output-path")
    model_args = _key_values("--model-args", args.model_args)
    gen_kwargs = _key_values("--gen-kwargs", args.gen_kwargs)
    results = evaluate(EvalConfig(
        checkpoint=args.checkpoint,
        tasks=tuple(task for task in args.tasks.split(",") if task),
        suite=args.suite,
        num_fewshot=args.num_fewshot,
        limit=args.limit,
        batch_size=args.batch_size,
        model_args=model_args,
        include_path=tuple(args.include_path),
        apply_chat_template=args.apply_chat_template,
        gen_kwargs=gen_kwargs,
        confirm_run_unsafe_code=args.confirm_run_unsafe_code,
        output_path=args.output_path,
    ))
    if results is not None:
        print(markdown_report(results))
        if args.output_path is not None:
            print(f"results written to {args.output_path}/results.json and results.md")
    return 0
