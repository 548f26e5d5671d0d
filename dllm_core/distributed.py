"""The torch.distributed process group of a dllm process, for training and for evaluation.

A launcher (``accelerate launch``, ``torchrun``, Slurm scripts) starts several processes and tells
each its place through environment variables (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``). This module
joins and leaves the process group they share, in three parts:

* leaving: :func:`leave_process_group`, which every process calls before it exits;
* training: :func:`configure_process_group`, the accelerate state of a CPU training process;
* evaluation: :class:`ProcessInfo` and the collectives lm-eval's evaluator calls
  (:func:`all_gather`, :func:`gather_object`, :func:`barrier`).

torch and accelerate are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def several_processes() -> bool:
    """Whether a launcher started this process as one of several (``WORLD_SIZE`` above 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


# --- leaving -------------------------------------------------------------------------------------


def leave_process_group() -> None:
    """Destroy the process group this process joined, if any.

    Call it before the process exits (evaluation registers it with ``atexit``; a training
    worker calls it when its run ends): a process that ends with the group still alive can
    abort while its gloo threads are torn down ("terminate called without an active
    exception", exit status -6)."""
    import torch

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


# --- training ------------------------------------------------------------------------------------


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class ProcessGroup:
    """What :func:`configure_process_group` did."""

    configured: bool  # True: the Trainer must use the state set up here
    kind: str  # "single", "gpu" (accelerate's own set-up), "cpu-ddp", "cpu-deepspeed", "cpu-fsdp"


def configure_process_group() -> ProcessGroup:
    """Set up the distributed state of a training process that a launcher started without GPUs.

    On GPUs the Trainer's accelerate set-up needs no help (NCCL; DDP, DeepSpeed or FSDP from the
    ``ACCELERATE_*`` variables ``accelerate launch`` exports). Without CUDA, accelerate on its own
    silently trains in one process or without the requested sharding, so the state is set up over
    gloo here and the Trainer is told to use it (``accelerator_config={"use_configured_state": True}``):

    * DeepSpeed: ``PartialState(backend="gloo")`` (DeepSpeed's own init), ``ACCELERATE_USE_CPU``
      cleared, since accelerate drops DeepSpeed when told to use the CPU;
    * FSDP: a gloo process group, and the state marked as multi-device so that accelerate applies
      FSDP2 (``fully_shard`` works on CPU tensors);
    * otherwise DDP over gloo (``ACCELERATE_USE_CPU``).
    """
    if not several_processes():
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


# --- evaluation ----------------------------------------------------------------------------------
# Under a launcher, lm-eval gives each process the requests of its shard (``rank``,
# ``world_size``), pads the shards to equal size with ``all_gather`` and collects the per-sample
# metrics on rank 0 with ``gather_object``. In a single process all of these are no-ops.


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in the job.

    Attributes:
        rank: global index of this process (``0`` alone).
        world_size: number of processes.
        device: the device accelerate assigns this process (``cuda:LOCAL_RANK`` or ``cpu``).
    """

    rank: int = 0
    world_size: int = 1
    device: str = "cpu"

    @classmethod
    def from_accelerate(cls) -> ProcessInfo:
        """Read accelerate's ``PartialState``, which joins the launcher's process group.

        Without a GPU accelerate sees the other processes only when told to use gloo (it
        otherwise reports one process), so that backend is named when the launcher started
        several processes and CUDA is not available. The group is left at exit.
        """
        import torch
        from accelerate import PartialState

        gloo = several_processes() and not torch.cuda.is_available()
        state = PartialState(**({"backend": "gloo"} if gloo else {}))
        if state.num_processes > 1:
            atexit.register(leave_process_group)
        return cls(rank=state.process_index, world_size=state.num_processes, device=str(state.device))


def all_gather(tensor: torch.Tensor, world_size: int) -> torch.Tensor:
    """``tensor`` (the same shape on every process) from all processes, concatenated along
    dimension 0; scalars become a ``[world_size]`` tensor."""
    if world_size <= 1:
        return tensor
    import torch

    parts = [torch.empty_like(tensor) for _ in range(world_size)]
    torch.distributed.all_gather(parts, tensor)
    return torch.stack(parts) if tensor.dim() == 0 else torch.cat(parts)


def gather_object(obj: Any, rank: int, world_size: int, dst: int = 0) -> list[Any] | None:
    """Every process's ``obj`` as a list on ``dst``, ``None`` on the other processes."""
    if world_size <= 1:
        return [obj]
    import torch

    gathered: list[Any] | None = [None] * world_size if rank == dst else None
    torch.distributed.gather_object(obj, gathered, dst=dst)
    return gathered


def barrier(world_size: int) -> None:
    """Wait until every process gets here."""
    if world_size > 1:
        import torch

        torch.distributed.barrier()
