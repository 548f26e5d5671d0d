"""dllm entry point of the ``dllm-editflow`` distribution: registers the Edit Flows family."""

from __future__ import annotations

from typing import Callable

from dllm_core.hookspecs import hookimpl
from dllm_editflow.family import EDITFLOW


@hookimpl
def dllm_register_families(register: Callable[..., None]) -> None:
    register(EDITFLOW)
