"""What a training run is, recorded so that ``--resume`` continues only that run.

A run writes ``dllm_run.json`` into its output folder when it starts: a random run id and its
settings (the :class:`~dllm_core.training.run_config.TrainRunConfig` fields that decide what is
trained; run-control fields such as ``max_steps`` or ``save_steps`` may change between tries).
Every ``checkpoint-N`` it writes carries the run id (:data:`RUN_RECORD` inside the checkpoint).
``--resume`` (:func:`plan_resume`) takes the newest checkpoint with the recorded run's id, refuses
settings that differ from the recorded ones (naming each), and says which ``checkpoint-N``
folders of other runs it does not continue. Pure Python; importing it is cheap.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dllm_core.errors import DllmError

RUN_RECORD = "dllm_run.json"
CHECKPOINT_PREFIX = "checkpoint-"
#: fields of TrainRunConfig that steer a try of the run without changing what is trained
RUN_CONTROL_FIELDS = frozenset({
    "resume", "output_dir", "max_steps", "num_train_epochs", "save_steps", "save_total_limit",
    "logging_steps", "eval_steps", "disable_progress_bar", "report_to", "generator_defaults",
})


@dataclass
class ResumePlan:
    """Where a run starts: its id, the checkpoint it resumes (``None``: from scratch), and notes
    for the user (checkpoints of other runs left alone, why nothing is resumed)."""

    run_id: str
    checkpoint: Path | None = None
    notes: list[str] = field(default_factory=list)


def run_settings(config_json: dict[str, Any]) -> dict[str, Any]:
    """The fields of a run config (as JSON) that decide what is trained."""
    return {key: value for key, value in sorted(config_json.items()) if key not in RUN_CONTROL_FIELDS}


def read_run_id(folder: Path) -> str | None:
    """The run id recorded in ``folder`` (an output folder or a checkpoint), or ``None``."""
    path = Path(folder) / RUN_RECORD
    try:
        return str(json.loads(path.read_text())["run_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_run_id(folder: Path, run_id: str) -> None:
    """Mark a checkpoint folder as written by run ``run_id``."""
    (Path(folder) / RUN_RECORD).write_text(json.dumps({"run_id": run_id}) + "\n")


def write_run_record(output_dir: Path, run_id: str, settings: dict[str, Any]) -> None:
    """Record the run that trains into ``output_dir``."""
    text = json.dumps({"run_id": run_id, "settings": settings}, indent=1, sort_keys=True, default=str)
    staging = Path(output_dir) / f".{RUN_RECORD}.tmp"
    staging.write_text(text + "\n")
    os.replace(staging, Path(output_dir) / RUN_RECORD)  # other processes may be reading it


def checkpoint_steps(output_dir: Path) -> list[tuple[int, Path]]:
    """``(N, folder)`` of the complete ``checkpoint-N`` folders (with ``trainer_state.json``), by N."""
    found = []
    for path in Path(output_dir).glob(f"{CHECKPOINT_PREFIX}*"):
        step = path.name[len(CHECKPOINT_PREFIX):]
        if step.isdigit() and (path / "trainer_state.json").is_file():
            found.append((int(step), path))
    return sorted(found)


def _differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    keys = sorted(set(recorded) | set(current))
    return [f"{key}: {recorded.get(key)!r} then, {current.get(key)!r} now" for key in keys
            if recorded.get(key) != current.get(key)]


def plan_resume(output_dir: Path, settings: dict[str, Any], resume: bool) -> ResumePlan:
    """The run id and checkpoint a run into ``output_dir`` starts from (see the module docstring).

    ``settings`` are the JSON-normalised :func:`run_settings` of the current config. Without
    ``resume`` a new run id is drawn. Settings that differ from the recorded run's raise a
    :class:`DllmError` listing them."""
    output_dir = Path(output_dir)
    path = output_dir / RUN_RECORD
    if not resume:
        return ResumePlan(uuid.uuid4().hex)
    if not path.is_file():
        others = [folder.name for _, folder in checkpoint_steps(output_dir)]
        note = (f"--resume: {output_dir} holds no record of an earlier run ({RUN_RECORD}); starting fresh"
                + (f"; not continuing {', '.join(others)}: written by another run" if others else ""))
        return ResumePlan(uuid.uuid4().hex, notes=[note])
    try:
        record = json.loads(path.read_text())
        run_id, recorded = str(record["run_id"]), dict(record["settings"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DllmError(f"--resume: cannot read {path} ({type(exc).__name__}); delete it to start a new run "
                        "in this folder, or drop --resume") from None
    differences = _differences(recorded, settings)
    if differences:
        raise DllmError(f"--resume: the run in {output_dir} was started with other settings "
                        f"({'; '.join(differences)}); repeat its settings to continue it, or drop --resume "
                        "(or pick a new --output-dir) to start a new run")
    own = [(step, folder) for step, folder in checkpoint_steps(output_dir) if read_run_id(folder) == run_id]
    foreign = [folder.name for _, folder in checkpoint_steps(output_dir) if read_run_id(folder) != run_id]
    plan = ResumePlan(run_id, own[-1][1] if own else None)
    if foreign:
        plan.notes.append(f"--resume: not continuing {', '.join(foreign)}: written by another run in this folder")
    if not own:
        plan.notes.append(f"--resume: this run wrote no checkpoint-N in {output_dir} yet; starting fresh")
    return plan
