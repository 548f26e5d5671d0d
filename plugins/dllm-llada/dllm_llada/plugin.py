"""dllm entry point of the ``dllm-llada`` distribution: registers the LLaDA family."""

from __future__ import annotations

from typing import Callable

from dllm_core.hookspecs import hookimpl
from dllm_llada.family import LLADA


@hookimpl
def dllm_register_families(register: Callable[..., None]) -> None:
    register(LLADA)
