"""Put every dllm family into lm-eval's model registry.

lm-eval 0.4.13 does not scan the ``lm_eval.models`` entry points the plugins declare, so
``dllm eval`` and ``python -m dllm_core.evaluation`` register the families themselves, as lazy
``"dllm_core.evaluation.models:NAME"`` references. ``lm_eval.models`` is imported first: lm-eval
fills its registry with its own models only when the registry is empty, so registering into an
empty one would hide them.
"""

from __future__ import annotations

from dllm_core.evaluation.models import lm_eval_name
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry

MODELS_MODULE = "dllm_core.evaluation.models"


def register_lm_eval_models() -> list[str]:
    """Register each family under its lm-eval name (idempotent); returns the names."""
    import lm_eval.models  # noqa: F401 - lm-eval's built-in models go in first
    from lm_eval.api.registry import model_registry

    from dllm_core.evaluation.lm_adapter import DiffusionLM

    names = []
    for entry in get_registry().families:
        name = lm_eval_name(entry.resolve())
        try:
            model_registry.register(name, target=f"{MODELS_MODULE}:{name}")
        except ValueError:  # already there: ours from an earlier call or an entry point, or a clash
            existing = model_registry.get(name)
            if not (isinstance(existing, type) and issubclass(existing, DiffusionLM)):
                raise DllmError(f"lm-eval already has a model named '{name}' ({existing}), so the dllm "
                                f"family '{entry.name}' cannot take that name; set a different "
                                "eval_model_name in its ModelFamily.") from None
        names.append(name)
    return names
