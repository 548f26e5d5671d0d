"""dllm entry point of the ``dllm-a2d`` distribution: registers the A2D family (whose
``ar_converter`` makes ``dllm convert --from-ar ... --objective block-diffusion`` produce A2D
checkpoints)."""

from __future__ import annotations

from typing import Callable

from dllm_core.api import hookimpl
from dllm_a2d.family import A2D


@hookimpl
def dllm_register_families(register: Callable[..., None]) -> None:
    register(A2D)
