"""Leaving the torch.distributed process group cleanly, shared by evaluation and training."""

from __future__ import annotations


def leave_process_group() -> None:
    """Destroy the process group this process joined, if any.

    Call it before the process exits (evaluation registers it with ``atexit``; a training
    worker calls it when its run ends): a process that ends with the group still alive can
    abort while its gloo threads are torn down ("terminate called without an active
    exception", exit status -6)."""
    import torch

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
