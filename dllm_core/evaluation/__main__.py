"""``python -m dllm_core.evaluation``: lm-eval's own command line, with dllm's models and tasks.

It takes lm-eval's arguments unchanged, e.g.::

    python -m dllm_core.evaluation --model llada --model_args pretrained=out/sudoku \\
        --tasks dllm_sudoku4 --limit 50 --apply_chat_template --output_path results/

lm-eval 0.4.13's ``lm_eval`` command cannot find models outside lm-eval, so this registers every
dllm family first (:mod:`~dllm_core.evaluation.registration`) and then runs lm-eval's
``cli_evaluate``, with two additions for the length of the call:

* every lm-eval ``TaskManager`` also indexes the bundled tasks' folder, so ``--tasks
  dllm_sudoku4`` works with or without your own ``--include_path`` (lm-eval takes one folder);
* the printed results table is followed by the speed table (:mod:`~dllm_core.evaluation.speed`),
  which is also in the results JSON under ``config.speed``.

A task whose data cannot be downloaded (offline, connection refused) is one line and exit code
2. ``accelerate launch -m dllm_core.evaluation ...`` shards the requests over processes.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

from dllm_core.evaluation.bundled import TASKS_DIR
from dllm_core.errors import DllmError

TASK_OPTIONS = ("--tasks", "-t")


def with_bundled_path(include_path: Any) -> list[Any]:
    """``include_path`` (``None``, a folder or a list of folders) plus the bundled tasks' folder."""
    paths = [] if include_path is None else list(include_path) if isinstance(include_path, (list, tuple)) \
        else [include_path]
    return paths if any(Path(p) == TASKS_DIR for p in paths) else [*paths, TASKS_DIR]


def requested_tasks(argv: Sequence[str]) -> list[str]:
    """The task names of ``--tasks A,B`` / ``--tasks=A,B`` / ``-t A,B`` in ``argv``."""
    names: list[str] = []
    for index, arg in enumerate(argv):
        if arg in TASK_OPTIONS and index + 1 < len(argv):
            names += argv[index + 1].split(",")
        elif arg.startswith("--tasks="):
            names += arg.split("=", 1)[1].split(",")
    return [name for name in names if name]


@contextlib.contextmanager
def dllm_additions() -> Iterator[None]:
    """lm-eval's ``TaskManager`` with the bundled tasks and its ``make_table`` with the speed
    table, while the command runs (module doc); restored after."""
    import lm_eval.tasks
    import lm_eval.utils

    from dllm_core.evaluation.report import speed_section

    original_manager, original_table = lm_eval.tasks.TaskManager, lm_eval.utils.make_table

    class BundledTaskManager(original_manager):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, include_path: Any = None, **kwargs: Any) -> None:
            super().__init__(*args, include_path=with_bundled_path(include_path), **kwargs)

    def make_table(results: dict[str, Any], column: str = "results", *args: Any, **kwargs: Any) -> str:
        table = original_table(results, column, *args, **kwargs)
        speed = speed_section(results) if column == "results" else ""
        return f"{table}\n{speed}\n" if speed else table

    lm_eval.tasks.TaskManager, lm_eval.utils.make_table = BundledTaskManager, make_table
    try:
        yield
    finally:
        lm_eval.tasks.TaskManager, lm_eval.utils.make_table = original_manager, original_table


def main(argv: Sequence[str] | None = None) -> int:
    from lm_eval.__main__ import cli_evaluate

    from dllm_core.evaluation.registration import register_lm_eval_models
    from dllm_core.evaluation.runner import download_error, is_download_failure

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        register_lm_eval_models()
        sys.argv = [sys.argv[0], *argv]
        with dllm_additions():
            cli_evaluate()
    except DllmError as exc:
        print(f"dllm: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not is_download_failure(exc):
            raise
        print(f"dllm: error: {download_error(exc, requested_tasks(argv))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
