"""dllm entry point of the ``dllm-dream`` distribution: registers the Dream family and the
``dllm convert`` command (an autoregressive Qwen2/Qwen3/Llama checkpoint as a Dream model)."""

from __future__ import annotations

from typing import Any, Callable

from dllm_core.api import hookimpl
from dllm_dream.family import DREAM


@hookimpl
def dllm_register_families(register: Callable[..., None]) -> None:
    register(DREAM)


@hookimpl
def dllm_register_commands(cli: Any) -> None:
    cli.add("convert", "dllm_dream.convert_command",
            help="Adapt an autoregressive checkpoint (Qwen2/Qwen3/Llama) into a Dream diffusion model.")
