"""``generate``: run a named preset of the generation loop on a model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from dllm_core.family import ModelFamily
from dllm_core.generation.capabilities import family_of, model_capabilities
from dllm_core.generation.engine import StepCallback, denoise
from dllm_core.generation.output import GenerationOutput
from dllm_core.generation.presets.base import Preset, PresetContext
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry


def generate(
    model: Any,
    input_ids: Any,
    *,
    preset: str | Preset,
    params: Any = None,
    attention_mask: torch.Tensor | None = None,
    family: ModelFamily | str | None = None,
    generator: torch.Generator | None = None,
    callback: StepCallback | None = None,
    return_history: bool = False,
    stop_at_eos: bool = False,
    eos_token_id: int | None = None,
    eot_token_id: int | None = None,
    slice_logits: bool = True,
    logit_shift: bool | None = None,
    supports_kv_cache: bool | None = None,
    supports_logits_to_keep: bool | None = None,
    **keywords: Any,
) -> GenerationOutput:
    """Generate with ``model`` from ``input_ids`` using the generator preset ``preset``.

    Args:
        model: a masked-diffusion model following the generation contract
            (``model(input_ids, attention_mask=, position_ids=, past_key_values=, use_cache=,
            logits_to_keep=).logits``); an encoder such as ModernBERT needs only the first two.
        input_ids: ``[B, Lp]`` prompts, left-padded (``attention_mask`` 0 on padding); the
            ``mdlm`` preset also takes a list of variable-length rows. Mask tokens inside the
            prompts are filled too (infilling).
        preset: a registered masked-diffusion preset name (``llada``, ``fastdllm``, ``dream``,
            ``mdlm``, or a plugin's) or a :class:`Preset`.
        params: an instance of the preset's ``params_class``; when ``None`` it is built from
            ``**keywords``.
        family: the model family (object or registered name); by default the family claiming
            ``model.config.model_type``, or none (no logit shift, no cache, no LM-head slicing).
        generator: random source for sampling; ``None`` uses torch's global generator.
        callback: called with a :class:`StepInfo` after every step (streaming).
        return_history: keep the canvas after every step in ``GenerationOutput.histories``.
        stop_at_eos: stop after a block once every row has produced ``eos_token_id``; the
            remaining masks become EOS.
        eos_token_id: defaults to ``model.config.eos_token_id``.
        eot_token_id: the end-of-turn id (LLaDA's ``confidence_eos_eot_inf``); defaults to
            ``model.config.eot_token_id`` when the config has one.
        slice_logits: project only the positions each step needs (when the model supports it).
        logit_shift, supports_kv_cache, supports_logits_to_keep: override the family's values.
        **keywords: the preset's parameters, named as in its reference function (not with
            ``params``).

    Returns:
        :class:`GenerationOutput` with ``sequences [B, L]``, ``nfe`` and optional ``histories``.
    """
    chosen = preset if isinstance(preset, Preset) else get_registry().generators.get(preset)
    if not isinstance(chosen, Preset):
        raise DllmError(f"generator '{preset}' is not a masked-diffusion preset of the engine, so generate() "
                        "cannot run it; call its complete() through an InferenceSession, or pass a preset "
                        "(`dllm list generators`).")
    context = preset_context(model, input_ids, attention_mask=attention_mask, family=family,
                             eos_token_id=eos_token_id, eot_token_id=eot_token_id, logit_shift=logit_shift,
                             supports_kv_cache=supports_kv_cache, supports_logits_to_keep=supports_logits_to_keep)
    if params is None:
        params = chosen.params_from_keywords(keywords)
    elif keywords:
        raise TypeError(f"pass the parameters either as params= or as keywords, not both: {sorted(keywords)}")
    prepared = chosen.prepare(context, params)
    config = replace(prepared.config, slice_logits=slice_logits, stop_at_eos=stop_at_eos)
    return denoise(model, prepared.canvas, config, prepared.capabilities, generator=generator,
                   callback=callback, return_history=return_history)


def preset_context(
    model: Any,
    input_ids: Any,
    *,
    attention_mask: torch.Tensor | None = None,
    family: ModelFamily | str | None = None,
    eos_token_id: int | None = None,
    eot_token_id: int | None = None,
    logit_shift: bool | None = None,
    supports_kv_cache: bool | None = None,
    supports_logits_to_keep: bool | None = None,
) -> PresetContext:
    """What a preset's ``prepare`` reads for :func:`generate`'s arguments (same meanings): the
    family's capabilities with the overrides, and the EOS / EoT ids (default: the model config's)."""
    capabilities = model_capabilities(
        family_of(model, family),
        logit_shift=logit_shift,
        supports_kv_cache=supports_kv_cache,
        supports_logits_to_keep=supports_logits_to_keep,
    )
    if eos_token_id is None:
        eos_token_id = getattr(getattr(model, "config", None), "eos_token_id", None)
    if eot_token_id is None:
        eot_token_id = getattr(getattr(model, "config", None), "eot_token_id", None)
    return PresetContext(model, input_ids, attention_mask, capabilities, eos_token_id, eot_token_id)
