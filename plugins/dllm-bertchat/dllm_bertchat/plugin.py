"""dllm entry point of the ``dllm-bertchat`` distribution: registers the BERT-chat family."""

from __future__ import annotations

from typing import Callable

from dllm_core.hookspecs import hookimpl
from dllm_bertchat.family import BERTCHAT


@hookimpl
def dllm_register_families(register: Callable[..., None]) -> None:
    register(BERTCHAT)
