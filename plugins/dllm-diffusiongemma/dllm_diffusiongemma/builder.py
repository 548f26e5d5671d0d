"""Build a DiffusionGemma model to train from scratch (``dllm train --family diffusiongemma
--preset tiny``): the family's ``model_builder``.

A preset holds the text stack, the (minimal) vision tower transformers always builds and the
canvas length; the vocabulary and the pad/EOS/BOS ids come from the tokenizer, as for every
family's from-scratch presets.
"""

from __future__ import annotations

from typing import Any

from dllm_core.api import DllmError, unknown_name_error
from dllm_diffusiongemma.family import DIFFUSIONGEMMA


def preset_config(preset: str, tokenizer: Any, **overrides: Any) -> Any:
    """The ``DiffusionGemmaConfig`` of ``preset`` sized to ``tokenizer`` (``overrides``: top-level
    config fields such as ``canvas_length``)."""
    from transformers import DiffusionGemmaConfig

    if preset not in DIFFUSIONGEMMA.presets:
        raise unknown_name_error("diffusiongemma preset", preset, DIFFUSIONGEMMA.presets)
    values = DIFFUSIONGEMMA.presets[preset]
    text = dict(values["text"], vocab_size=len(tokenizer))
    for role in ("pad", "eos", "bos"):
        token_id = getattr(tokenizer, f"{role}_token_id", None)
        if token_id is not None:
            text[f"{role}_token_id"] = token_id
    if tokenizer.pad_token_id is None:
        raise DllmError("the tokenizer has no pad token; DiffusionGemma needs one (tokenizer.add_special_tokens)")
    vision = dict(values["vision"], model_type="gemma4_vision")
    return DiffusionGemmaConfig(text_config=text, vision_config=vision,
                                canvas_length=overrides.pop("canvas_length", values["canvas_length"]), **overrides)


def build_from_preset(preset: str, tokenizer: Any, *, backbone: str | None = None) -> Any:
    """A freshly initialised ``DiffusionGemmaForBlockDiffusion`` for ``preset``."""
    from transformers import DiffusionGemmaForBlockDiffusion

    if backbone is not None:
        raise DllmError("--backbone is for families that wrap another family's model; diffusiongemma does not")
    return DiffusionGemmaForBlockDiffusion(preset_config(preset, tokenizer))
