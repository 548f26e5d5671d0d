"""Build an Edit Flows model to train from scratch: ``dllm train --family editflow --backbone B``.

The family's ``model_builder``: the backbone family's size preset, sized to the tokenizer as for
any family (:func:`dllm_core.api.preset_config`), wrapped by :class:`EditFlowModel`.
"""

from __future__ import annotations

from typing import Any

from dllm_core.api import DllmError, get_registry, max_positions, preset_config
from dllm_editflow.configuration import EditFlowConfig
from dllm_editflow.modeling import EditFlowModel


def build_from_preset(preset: str, tokenizer: Any, *, backbone: str | None = None) -> EditFlowModel:
    """A fresh ``EditFlowModel`` over ``backbone``'s ``preset``, sized to ``tokenizer``."""
    families = get_registry().families
    if backbone is None:
        choices = ", ".join(name for name in families.names() if name != "editflow")
        raise DllmError(f"Edit Flows wraps another family's model: pass --backbone NAME (one of: {choices})")
    backbone_family = families.get(backbone)
    if backbone_family.model_builder is not None:
        raise DllmError(f"--backbone {backbone} itself wraps another family; pick a masked LM family")
    inner = preset_config(backbone_family, preset, tokenizer)
    config = EditFlowConfig(
        backbone_family=backbone,
        backbone=inner.to_dict(),
        max_position_embeddings=max_positions(inner),
        mask_token_id=tokenizer.mask_token_id,
        special_token_ids=tokenizer.all_special_ids,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    return EditFlowModel(config)
