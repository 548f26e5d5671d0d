"""dllm entry point of the ``dllm-llada`` distribution: the LLaDA family and ``dllm demo``."""

from __future__ import annotations

from typing import Any, Callable

from dllm_core.api import hookimpl
from dllm_llada.family import LLADA


@hookimpl
def dllm_register_families(register: Callable[..., None]) -> None:
    register(LLADA)


@hookimpl
def dllm_register_commands(cli: Any) -> None:
    cli.add("demo", "dllm_llada.demo_command",
            help="The main job: train a tiny LLaDA on 4x4 sudoku, evaluate it and show it solving.")
