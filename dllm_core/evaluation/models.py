"""One lm-eval model class per registered dllm family, built on first attribute access.

``dllm_core.evaluation.models:llada`` is the :class:`~dllm_core.evaluation.lm_adapter.DiffusionLM`
subclass pinned to the family whose lm-eval name (``ModelFamily.eval_model_name``, else its
registry name) is ``llada``. These attributes are what the plugins' ``lm_eval.models`` entry
points and :func:`~dllm_core.evaluation.registration.register_lm_eval_models` point at, so a new
family needs no code here. Accessing one imports torch and lm-eval.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from dllm_core.family import ModelFamily
from dllm_core.registry import get_registry

if TYPE_CHECKING:
    from dllm_core.evaluation.lm_adapter import DiffusionLM


def lm_eval_name(family: ModelFamily) -> str:
    """The name lm-eval knows ``family`` by."""
    return family.eval_model_name or family.name


@cache
def model_class(name: str) -> type[DiffusionLM]:
    """The ``DiffusionLM`` subclass for the family lm-eval calls ``name``."""
    from dllm_core.evaluation.lm_adapter import DiffusionLM

    for entry in get_registry().families:
        family: ModelFamily = entry.resolve()
        if lm_eval_name(family) == name:
            return type(name, (DiffusionLM,), {
                "__module__": __name__,
                "__qualname__": name,
                "__doc__": f"lm-eval model for {family.name} checkpoints: {family.description}",
                "family_name": family.name,
            })
    raise AttributeError(f"no installed dllm family has the lm-eval model name '{name}'")


def __getattr__(name: str) -> type[DiffusionLM]:
    if name.startswith("__"):
        raise AttributeError(name)
    return model_class(name)
