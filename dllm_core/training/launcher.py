"""Re-launching ``dllm train`` under ``accelerate launch`` (no torch import: this runs in the CLI).

``dllm train --accelerate-config zero2 --num-processes 8 ...`` writes the validated
:class:`~dllm_core.training.run_config.TrainRunConfig` to a JSON file and runs

    python -m accelerate.commands.launch --config_file .../zero2.yaml --num_processes 8 \
        [--num_machines M --machine_rank R --main_process_ip IP --main_process_port P] \
        -m dllm_core.training.worker CONFIG.json

on this machine; each process then runs :func:`~dllm_core.training.run.run_training`. A
process started by a launcher already (``LOCAL_RANK`` set: ``accelerate launch``, ``torchrun``,
Slurm scripts) trains in place and never launches again.

Named configs (``cpu``, ``ddp``, ``zero1``, ``zero2``, ``zero3``, ``fsdp2``) ship in
``dllm_core/training/accelerate_configs/`` (``scripts/accelerate/`` in the repository); any
other accelerate YAML file is accepted by path.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from dllm_core.dataclass_options import option
from dllm_core.errors import DllmError, unknown_name_error

CONFIG_DIR = Path(__file__).with_name("accelerate_configs")
#: ``fsdp`` is FSDP2: FSDP1 cannot gather a state dict on every platform (it crashes on CPU)
ALIASES = {"fsdp": "fsdp2"}
#: the distribution that an accelerate ``distributed_type`` needs, and the extra that installs it
NEEDED_EXTRAS = {"DEEPSPEED": ("deepspeed", "deepspeed")}
#: the group of these options in ``dllm train --help``
SCALE = "scale (accelerate; docs/scaling.md)"


def config_names() -> list[str]:
    """The shipped config names (file stems), sorted."""
    return sorted(path.stem for path in CONFIG_DIR.glob("*.yaml"))


def resolve_accelerate_config(name_or_path: str) -> Path:
    """The YAML file for a shipped name (``zero2``) or an existing path to any accelerate config."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.resolve()
    name = ALIASES.get(name_or_path, name_or_path)
    if name in config_names():
        return CONFIG_DIR / f"{name}.yaml"
    if path.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        raise DllmError(f"accelerate config file {name_or_path} does not exist; pass an existing YAML file "
                        f"or one of the shipped names: {', '.join(config_names())}")
    raise unknown_name_error("accelerate config", name_or_path, config_names(),
                             "Pass a shipped name or the path of an accelerate YAML file.")


def read_accelerate_config(path: Path) -> dict[str, Any]:
    """The YAML mapping of an accelerate config file (a clear error when it is not one)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DllmError(f"cannot read accelerate config {path}: {exc}") from None
    if not isinstance(data, dict) or "distributed_type" not in data:
        raise DllmError(f"{path} is not an accelerate config (no distributed_type); write one with "
                        "`accelerate config` or use a shipped name")
    return data


@dataclass
class LaunchOptions:
    """How many processes where: ``dllm train``'s launcher options (``None``: the accelerate
    config's value; no config: accelerate's plain DDP, the shipped ``ddp``)."""

    accelerate_config: str | None = option(
        None, group=SCALE, metavar="NAME_OR_YAML",
        help="cpu, ddp, zero1, zero2, zero3, fsdp2, or the path of an accelerate config file")
    num_processes: int | None = option(None, group=SCALE, help="processes over all machines (one per GPU)")
    num_machines: int | None = option(None, group=SCALE, help="machines taking part (multi-node)")
    machine_rank: int | None = option(None, group=SCALE, help="this machine's rank, 0 .. num-machines - 1")
    main_process_ip: str | None = option(None, group=SCALE, help="address of the machine of rank 0")
    main_process_port: int | None = option(None, group=SCALE, help="port of the rendezvous on rank 0")

    def check(self) -> None:
        """Counts that must be positive (``--num-processes 0`` is a mistake, not one process)."""
        for name in ("num_processes", "num_machines"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise DllmError(f"--{name.replace('_', '-')} must be at least 1, got {value}")

    def wanted(self) -> bool:
        """Whether these options ask for ``accelerate launch`` at all."""
        return (self.accelerate_config is not None or (self.num_processes or 1) > 1
                or (self.num_machines or 1) > 1)


def inside_launcher(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process was started by a distributed launcher (it must not launch again)."""
    return "LOCAL_RANK" in environ


def check_extras(config: Mapping[str, Any]) -> None:
    """A missing optional dependency of the config is a clear error naming the extra."""
    needed = NEEDED_EXTRAS.get(str(config.get("distributed_type", "")).upper())
    if needed is not None and importlib.util.find_spec(needed[0]) is None:
        raise DllmError(f"accelerate config with distributed_type {config['distributed_type']} needs "
                        f"{needed[0]}, which is not installed: pip install 'dllm-core[{needed[1]}]'")


def launch_command(options: LaunchOptions, config_file: Path, worker_args: list[str]) -> list[str]:
    """The ``accelerate launch`` command line that runs the training worker."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file)]
    flags = {
        "--num_processes": options.num_processes,
        "--num_machines": options.num_machines,
        "--machine_rank": options.machine_rank,
        "--main_process_ip": options.main_process_ip,
        "--main_process_port": options.main_process_port,
    }
    for flag, value in flags.items():
        if value is not None:
            command += [flag, str(value)]
    return [*command, "-m", "dllm_core.training.worker", *worker_args]


def launch_environment(config: Mapping[str, Any]) -> dict[str, str]:
    """The environment of the launched processes: ours, plus CPU placement when the config asks."""
    environ = dict(os.environ)
    if config.get("use_cpu"):
        environ["ACCELERATE_USE_CPU"] = "true"  # accelerate's multi-process launcher drops use_cpu
    return environ


def resolve_launch(options: LaunchOptions) -> tuple[Path, dict[str, Any]]:
    """Config path and contents for ``options`` (the ``ddp`` config when none is named)."""
    path = resolve_accelerate_config(options.accelerate_config or "ddp")
    config = read_accelerate_config(path)
    check_extras(config)
    options.check()
    machines = options.num_machines or int(config.get("num_machines", 1))
    if machines > 1 and options.main_process_ip is None and not config.get("main_process_ip"):
        raise DllmError("--num-machines > 1 needs --main-process-ip (the address of machine rank 0)")
    return path, config


def relaunch(options: LaunchOptions, config_json: str) -> int:
    """Run the training worker under ``accelerate launch``; returns its exit status.

    ``config_json`` is the run configuration (:func:`~dllm_core.dataclass_options.to_json`),
    passed to the workers through a temporary file that is removed afterwards.
    """
    import tempfile

    path, config = resolve_launch(options)
    handle, name = tempfile.mkstemp(prefix="dllm-train-", suffix=".json")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(config_json)
        command = launch_command(options, path, [name])
        print(f"dllm: launching {options.num_processes or config.get('num_processes')} processes with "
              f"accelerate ({path.name})", file=sys.stderr, flush=True)
        return subprocess.run(command, env=launch_environment(config), check=False).returncode
    finally:
        os.unlink(name)
