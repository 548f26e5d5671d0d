"""What a model supports during generation, from its registered family and explicit overrides."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dllm_core.family import ModelFamily
from dllm_core.errors import UnknownNameError
from dllm_core.registry import get_registry


@dataclass(frozen=True)
class ModelCapabilities:
    """The family facts the generation loop uses.

    Attributes:
        logit_shift: position ``i`` is predicted by the output at ``i - 1`` (Dream); position 0
            keeps its own output.
        kv_cache: ``forward`` accepts ``past_key_values`` (a cache object) and ``use_cache``;
            without it prefix/dual caching falls back to full forwards.
        logits_to_keep: ``forward`` accepts ``logits_to_keep`` (a ``slice`` of query positions),
            so the LM head runs only where logits are needed; without it the loop slices the
            full logits.
    """

    logit_shift: bool = False
    kv_cache: bool = False
    logits_to_keep: bool = False


def family_of(model: Any, family: ModelFamily | str | None = None) -> ModelFamily | None:
    """The family of ``model``: ``family`` itself, the registered family of that name, or the
    family claiming ``model.config.model_type``; ``None`` when no installed family claims it."""
    if isinstance(family, ModelFamily):
        return family
    families = get_registry().families
    if isinstance(family, str):
        return families.get(family)
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if not model_type:
        return None
    try:
        return families.for_model_type(model_type)
    except UnknownNameError:
        return None


def model_capabilities(
    family: ModelFamily | None,
    *,
    logit_shift: bool | None = None,
    supports_kv_cache: bool | None = None,
    supports_logits_to_keep: bool | None = None,
) -> ModelCapabilities:
    """The family's capabilities (all off without a family), each overridable when not ``None``."""
    base = ModelCapabilities()
    if family is not None:
        base = ModelCapabilities(family.logit_shift, family.supports_kv_cache,
                                 family.supports_logits_to_keep)
    overrides = {"logit_shift": logit_shift, "kv_cache": supports_kv_cache,
                 "logits_to_keep": supports_logits_to_keep}
    return replace(base, **{name: value for name, value in overrides.items() if value is not None})
