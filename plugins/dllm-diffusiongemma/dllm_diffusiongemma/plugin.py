"""dllm entry point of the ``dllm-diffusiongemma`` distribution: the family, its generator and
objective (lazy references: nothing heavy is imported here).

DiffusionGemma lives in transformers from :data:`~dllm_diffusiongemma.MIN_TRANSFORMERS` on. With
an older transformers every hook raises a :class:`PluginError` naming the upgrade, so ``dllm
plugins`` lists this plugin with that reason and the host keeps working without it.
"""

from __future__ import annotations

from importlib import metadata
from typing import Callable

from dllm_core.api import PluginError, hookimpl
from dllm_diffusiongemma import MIN_TRANSFORMERS
from dllm_diffusiongemma.family import DIFFUSIONGEMMA

Register = Callable[..., None]


def transformers_problem(installed: str | None) -> str | None:
    """Why transformers ``installed`` (``None``: not installed) cannot run DiffusionGemma."""
    from packaging.version import InvalidVersion, Version

    if installed is None:
        return f"needs transformers>={MIN_TRANSFORMERS}, which is not installed"
    try:
        too_old = Version(installed) < Version(MIN_TRANSFORMERS)
    except InvalidVersion:
        return None
    if too_old:
        return (f"needs transformers>={MIN_TRANSFORMERS} (DiffusionGemmaForBlockDiffusion) but {installed} is "
                f"installed; upgrade it: pip install 'transformers>={MIN_TRANSFORMERS}'")
    return None


def check_transformers() -> None:
    """Raise :class:`PluginError` when the installed transformers lacks DiffusionGemma."""
    try:
        installed: str | None = metadata.version("transformers")
    except metadata.PackageNotFoundError:
        installed = None
    problem = transformers_problem(installed)
    if problem is not None:
        raise PluginError(problem)


@hookimpl
def dllm_register_families(register: Register) -> None:
    check_transformers()
    register(DIFFUSIONGEMMA)


@hookimpl
def dllm_register_generators(register: Register) -> None:
    check_transformers()
    register("diffusiongemma", "dllm_diffusiongemma.generator:DIFFUSIONGEMMA_GENERATOR",
             description="DiffusionGemma generate: uniform canvas, entropy-bound acceptance, re-noising, "
                         "linear temperature, stable-and-confident stopping, self-conditioning")
