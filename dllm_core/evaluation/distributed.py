"""Which process this is, from accelerate, and the collectives lm-eval's evaluator calls.

Under ``accelerate launch`` (or ``torchrun``) with several processes lm-eval gives each process
the requests of its shard (``rank``, ``world_size``), pads the shards to equal size with
``all_gather`` and collects the per-sample metrics on rank 0 with ``gather_object``. In a single
process all of these are no-ops.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

import torch

from dllm_core.process_group import leave_process_group


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
    def from_accelerate(cls) -> "ProcessInfo":
        """Read accelerate's ``PartialState``, which joins the launcher's process group.

        Without a GPU accelerate sees the other processes only when told to use gloo (it
        otherwise reports one process), so that backend is named when the launcher started
        several processes (``WORLD_SIZE > 1``) and CUDA is not available.
        """
        from accelerate import PartialState

        launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
        state = PartialState(**({"backend": "gloo"} if launched and not torch.cuda.is_available() else {}))
        if state.num_processes > 1:
            atexit.register(leave_process_group)
        return cls(rank=state.process_index, world_size=state.num_processes, device=str(state.device))


def all_gather(tensor: torch.Tensor, world_size: int) -> torch.Tensor:
    """``tensor`` (the same shape on every process) from all processes, concatenated along
    dimension 0; scalars become a ``[world_size]`` tensor."""
    if world_size <= 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world_size)]
    torch.distributed.all_gather(parts, tensor)
    return torch.stack(parts) if tensor.dim() == 0 else torch.cat(parts)


def gather_object(obj: Any, rank: int, world_size: int, dst: int = 0) -> list[Any] | None:
    """Every process's ``obj`` as a list on ``dst``, ``None`` on the other processes."""
    if world_size <= 1:
        return [obj]
    gathered: list[Any] | None = [None] * world_size if rank == dst else None
    torch.distributed.gather_object(obj, gathered, dst=dst)
    return gathered


def barrier(world_size: int) -> None:
    """Wait until every process gets here."""
    if world_size > 1:
        torch.distributed.barrier()
