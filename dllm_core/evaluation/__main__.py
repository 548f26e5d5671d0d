"""``python -m dllm_core.evaluation``: lm-eval's own command line, with dllm's models and tasks.

It takes lm-eval's arguments unchanged, e.g.::

    python -m dllm_core.evaluation --model llada --model_args pretrained=out/sudoku \\
        --tasks dllm_sudoku4 --limit 50 --apply_chat_template --output_path results/

lm-eval 0.4.13's ``lm_eval`` command cannot find models outside lm-eval, so this registers every
dllm family first (:mod:`~dllm_core.evaluation.registration`) and then runs lm-eval's
``cli_evaluate``. Unless ``--include_path`` is given, the bundled tasks' folder is added as the
include path, so ``--tasks dllm_sudoku4`` works; with your own ``--include_path``, pass a folder
that also holds (copies of) the bundled YAML files if you need them. ``accelerate launch -m
dllm_core.evaluation ...`` shards the requests over processes.
"""

from __future__ import annotations

import sys
from typing import Sequence

from dllm_core.evaluation.bundled import TASKS_DIR
from dllm_core.errors import DllmError

TASK_OPTIONS = ("--tasks", "-t")


def with_bundled_tasks(argv: Sequence[str]) -> list[str]:
    """``argv`` plus ``--include_path TASKS_DIR`` when it selects tasks (``--tasks``, or the
    ``ls`` subcommand) and gives no include path of its own."""
    argv = list(argv)
    selects_tasks = (argv[:1] == ["ls"] or any(arg in TASK_OPTIONS or arg.startswith("--tasks=") for arg in argv))
    if not selects_tasks or any(arg == "--include_path" or arg.startswith("--include_path=") for arg in argv):
        return argv
    return [*argv, "--include_path", str(TASKS_DIR)]


def main(argv: Sequence[str] | None = None) -> int:
    from lm_eval.__main__ import cli_evaluate

    from dllm_core.evaluation.registration import register_lm_eval_models
    from dllm_core.evaluation.runner import download_error

    argv = sys.argv[1:] if argv is None else argv
    try:
        register_lm_eval_models()
        sys.argv = [sys.argv[0], *with_bundled_tasks(argv)]
        cli_evaluate()
    except ConnectionError as exc:
        print(f"dllm: error: {download_error(exc)}", file=sys.stderr)
        return 2
    except DllmError as exc:
        print(f"dllm: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
