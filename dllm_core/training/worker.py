"""One training process of a launched ``dllm train``: ``python -m dllm_core.training.worker RUN.json``.

:mod:`dllm_core.training.launcher` starts one per device under ``accelerate launch``; ``RUN.json``
holds the keyword arguments of :class:`~dllm_core.training.launch.TrainRunConfig`
(:func:`encode_fields`). Every process trains; the one of rank 0 prints the summary. A
:class:`DllmError` prints one line and exits with 2, as the CLI does.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from dllm_core.errors import DllmError


def encode_fields(fields: dict[str, Any]) -> str:
    """JSON of ``TrainRunConfig`` keyword arguments (paths as strings, options as objects)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return dataclasses.asdict(value)
        if isinstance(value, Path):
            return str(value)
        raise TypeError(f"cannot encode {type(value).__name__}")

    return json.dumps(fields, default=plain)


def decode_fields(text: str) -> dict[str, Any]:
    """The keyword arguments :func:`encode_fields` wrote."""
    from dllm_core.training.adapters import LoraOptions

    fields = json.loads(text)
    fields["output_dir"] = Path(fields["output_dir"])
    if fields.get("lora") is not None:
        fields["lora"] = LoraOptions(**fields["lora"])
    return fields


def main(argv: Sequence[str] | None = None) -> int:
    from dllm_core.cli.train_command import print_result
    from dllm_core.process_group import leave_process_group
    from dllm_core.training.launch import TrainRunConfig, run_training

    (path,) = sys.argv[1:] if argv is None else argv
    try:
        result = run_training(TrainRunConfig(**decode_fields(Path(path).read_text())))
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
