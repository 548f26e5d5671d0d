"""dllm entry point of the ``dllm-dream`` distribution: registers the Dream family, with its
converter from autoregressive Qwen2/Qwen3/Llama checkpoints (``ModelFamily.ar_converter``, run by
the core's ``dllm convert --from-ar``: Dream is its target for masked diffusion, the default).
"""

from __future__ import annotations

from typing import Callable

from dllm_core.api import hookimpl
from dllm_dream.family import DREAM


@hookimpl
def dllm_register_families(register: Callable[..., None]) -> None:
    register(DREAM)
