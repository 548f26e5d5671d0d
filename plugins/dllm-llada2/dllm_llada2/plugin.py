"""dllm entry point of the ``dllm-llada2`` distribution: the LLaDA2.x MoE and LLaDA-MoE families."""

from __future__ import annotations

from typing import Callable

from dllm_core.api import hookimpl
from dllm_llada2.family import LLADA2, LLADAMOE


@hookimpl
def dllm_register_families(register: Callable[..., None]) -> None:
    register(LLADA2)
    register(LLADAMOE)
