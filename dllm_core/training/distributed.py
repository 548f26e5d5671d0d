"""The process group of one training process, when a launcher started several without GPUs.

On GPUs the Trainer's accelerate set-up needs no help (NCCL; DDP, DeepSpeed or FSDP from the
``ACCELERATE_*`` variables ``accelerate launch`` exports). Without CUDA, accelerate on its own
silently trains in one process or without the requested sharding, so
:func:`configure_process_group` sets the state up over gloo first and the Trainer is told to
use it (``accelerator_config={"use_configured_state": True}``):

* DeepSpeed: ``PartialState(backend="gloo")`` (DeepSpeed's own init), ``ACCELERATE_USE_CPU``
  cleared, since accelerate drops DeepSpeed when told to use the CPU;
* FSDP: a gloo process group, and the state marked as multi-device so that accelerate applies
  FSDP2 (``fully_shard`` works on CPU tensors);
* otherwise DDP over gloo (``ACCELERATE_USE_CPU``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class ProcessGroup:
    """What :func:`configure_process_group` did."""

    configured: bool  # True: the Trainer must use the state set up here
    kind: str  # "single", "gpu" (accelerate's own set-up), "cpu-ddp", "cpu-deepspeed", "cpu-fsdp"


def configure_process_group() -> ProcessGroup:
    """Set up the distributed state of a CPU process started by a launcher (see the module doc)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return ProcessGroup(False, "single")
    import torch

    if torch.cuda.is_available() and not _flag("ACCELERATE_USE_CPU"):
        return ProcessGroup(False, "gpu")
    from accelerate import PartialState
    from accelerate.utils import DistributedType

    if _flag("ACCELERATE_USE_DEEPSPEED"):
        os.environ.pop("ACCELERATE_USE_CPU", None)
        PartialState(backend="gloo")
        return ProcessGroup(True, "cpu-deepspeed")
    if _flag("ACCELERATE_USE_FSDP"):
        os.environ.pop("ACCELERATE_USE_CPU", None)
        state = PartialState(backend="gloo")
        state.distributed_type = DistributedType.MULTI_GPU  # AcceleratorState turns it into FSDP
        return ProcessGroup(True, "cpu-fsdp")
    os.environ["ACCELERATE_USE_CPU"] = "true"
    PartialState(cpu=True, backend="gloo")
    return ProcessGroup(True, "cpu-ddp")
