"""Helpers over a model's Hugging Face config: its context length and a family's size presets.

Imports neither torch nor transformers at module level.
"""

from __future__ import annotations

from typing import Any

from dllm_core.checkpoint import register_family_classes
from dllm_core.errors import unknown_name_error
from dllm_core.family import ModelFamily
from dllm_core.registry import load_reference


def max_positions(config: Any) -> int | None:
    """The longest sequence the model's positions allow (``None`` when the config says nothing)."""
    for attribute in ("max_sequence_length", "max_position_embeddings", "n_positions"):
        value = getattr(config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def preset_config(family: ModelFamily, preset: str, tokenizer: Any) -> Any:
    """The family's config for ``preset``, sized to ``tokenizer`` (vocabulary and special ids that
    the preset leaves unset)."""
    if preset not in family.presets:
        raise unknown_name_error(f"{family.name} preset", preset, family.presets)
    register_family_classes(family)
    values = dict(family.presets[preset])
    sized = {
        "vocab_size": len(tokenizer),
        "mask_token_id": tokenizer.mask_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "cls_token_id": getattr(tokenizer, "cls_token_id", None),
        "sep_token_id": getattr(tokenizer, "sep_token_id", None),
    }
    for key, value in sized.items():
        if value is not None and values.get(key) is None:
            values[key] = value
    if family.config_class is not None:
        return load_reference(family.config_class)(**values)
    from transformers import AutoConfig

    model_type = values.pop("model_type", family.model_types[0])
    return AutoConfig.for_model(model_type, **values)
