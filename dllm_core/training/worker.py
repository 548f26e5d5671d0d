"""One training process of a launched ``dllm train``: ``python -m dllm_core.training.worker RUN.json``.

:mod:`dllm_core.training.launcher` starts one per device under ``accelerate launch``; ``RUN.json``
is the :class:`~dllm_core.training.run_config.TrainRunConfig` that ``dllm train`` checked, written
with :func:`~dllm_core.dataclass_options.to_json`. Every process trains; the one of rank 0 prints
the summary. A :class:`DllmError` prints one line and exits with 2, as the CLI does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from dllm_core.errors import DllmError


def main(argv: Sequence[str] | None = None) -> int:
    from dllm_core.dataclass_options import from_json
    from dllm_core.distributed import leave_process_group
    from dllm_core.training.report import print_result
    from dllm_core.training.run import run_training
    from dllm_core.training.run_config import TrainRunConfig

    (path,) = sys.argv[1:] if argv is None else argv
    try:
        result = run_training(from_json(TrainRunConfig, Path(path).read_text()))
    except DllmError as exc:
        print(f"dllm: error: {exc}", file=sys.stderr)
        return 2
    finally:
        leave_process_group()  # before exit, so no process aborts while gloo's threads stop
    if result.main_process:
        print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
