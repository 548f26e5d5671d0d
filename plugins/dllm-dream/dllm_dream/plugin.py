"""dllm entry point of the ``dllm-dream`` distribution: registers the Dream family."""

from __future__ import annotations

from typing import Callable

from dllm_core.hookspecs import hookimpl
from dllm_dream.family import DREAM


@hookimpl
def dllm_register_families(register: Callable[..., None]) -> None:
    register(DREAM)
