"""LLaDA's ``generate`` (ML-GSAI/LLaDA) and Fast-dLLM's LLaDA samplers (NVlabs/Fast-dLLM).

Both append ``gen_length`` masks to left-padded prompts (positions ``0..L-1`` in every row, as
the reference model computes them), split them into ``gen_length / block_length`` blocks with
``steps / num_blocks`` steps each, pick tokens greedily or by float64 Gumbel-max sampling, and
commit the most confident (``remasking="low_confidence"``, softmax probability of the chosen
token) or random (``"random"``) positions, ``n // S`` per step plus one in the first ``n % S``.

Fast-dLLM adds a probability ``threshold`` (best candidate always, the others when confident
enough; the block runs until full), a ``factor`` rule, float64 confidences and the prefix/dual
key-value caches (``use_cache``). Its three functions ``generate``, ``generate_with_prefix_cache``
and ``generate_with_dual_cache`` are ``use_cache=None``, ``"prefix"`` and ``"dual"``.

With masks inside the prompt (infilling) blocks tile the span from the first mask on, each with
``steps / num_blocks`` steps.
"""

from __future__ import annotations

import torch

from dllm_core.generation.canvas import append_masks
from dllm_core.generation.commit import CommitRule, FactorCommit, ThresholdCommit, TopKCommit
from dllm_core.generation.confidence import ConfidenceScore, ProbabilityConfidence, RandomConfidence
from dllm_core.generation.config import GenerationConfig
from dllm_core.generation.presets.base import (
    Preset,
    PresetContext,
    Prepared,
    check_choice,
    check_positive,
)
from dllm_core.generation.tokens import GumbelChooser
from dllm_core.generation.transfer import LinearSplit, TransferSchedule, UntilDone


def remasking_confidence(remasking: str) -> ConfidenceScore:
    """``"low_confidence"`` -> probability of the chosen token; ``"random"`` -> uniform draws."""
    check_choice("remasking", remasking, ("low_confidence", "random"))
    return ProbabilityConfidence() if remasking == "low_confidence" else RandomConfidence()


def _prepare(
    context: PresetContext,
    *,
    steps: int,
    gen_length: int,
    block_length: int,
    temperature: float,
    cfg_scale: float,
    remasking: str,
    mask_id: int | None,
    logits_eos_inf: bool,
    confidence_eos_eot_inf: bool,
    eot_token_id: int | None,
    prob_dtype: torch.dtype,
    threshold: float | None = None,
    factor: float | None = None,
    use_cache: str | None = None,
) -> Prepared:
    check_choice("use_cache", use_cache, (None, "prefix", "dual"))
    check_positive(steps=steps, block_length=block_length)
    if gen_length % block_length != 0:
        raise ValueError(f"gen_length ({gen_length}) must be a multiple of block_length "
                         f"({block_length})")
    if gen_length and steps % (gen_length // block_length) != 0:
        raise ValueError(f"steps ({steps}) must be a multiple of the number of blocks "
                         f"({gen_length // block_length})")
    mask = context.token_id(mask_id, "mask_token_id", "mask_id")
    canvas = append_masks(context.prompt_batch(), context.attention_mask, gen_length, mask)
    steps_per_block = max(steps // max(canvas.num_blocks(block_length), 1), 1)
    eos = context.eos_token_id
    ended = tuple(i for i in (eos, eot_token_id) if i is not None) if confidence_eos_eot_inf else ()
    never = (context.token_id(eos, "eos_token_id", "eos_token_id"),) if logits_eos_inf else ()
    transfer: TransferSchedule = LinearSplit(steps_per_block)
    commit: CommitRule = TopKCommit()
    if factor is not None:
        transfer, commit = UntilDone(), FactorCommit(factor)
    elif threshold is not None:
        transfer, commit = UntilDone(), ThresholdCommit(threshold)
    config = GenerationConfig(
        mask_token_id=mask,
        transfer=transfer,
        block_length=block_length,
        tokens=GumbelChooser(temperature, prob_dtype=prob_dtype, confidence_suppress_tokens=ended),
        confidence=remasking_confidence(remasking),
        commit=commit,
        cfg_scale=cfg_scale,
        suppress_tokens=never,
        cache=use_cache or "none",
        eos_token_id=eos,
    )
    return Prepared(canvas, config, context.capabilities)


def prepare_llada(
    context: PresetContext,
    *,
    steps: int = 128,
    gen_length: int = 128,
    block_length: int = 128,
    temperature: float = 0.0,
    cfg_scale: float = 0.0,
    remasking: str = "low_confidence",
    mask_id: int | None = None,
    logits_eos_inf: bool = False,
    confidence_eos_eot_inf: bool = False,
    eot_token_id: int | None = None,
) -> Prepared:
    """ML-GSAI/LLaDA ``generate``; ``mask_id`` defaults to the model config's ``mask_token_id``.

    ``logits_eos_inf`` never generates EOS; ``confidence_eos_eot_inf`` gives EOS (and
    ``eot_token_id`` when given) predictions confidence 0, so they are committed last.
    """
    return _prepare(context, steps=steps, gen_length=gen_length, block_length=block_length,
                    temperature=temperature, cfg_scale=cfg_scale, remasking=remasking,
                    mask_id=mask_id, logits_eos_inf=logits_eos_inf,
                    confidence_eos_eot_inf=confidence_eos_eot_inf, eot_token_id=eot_token_id,
                    prob_dtype=torch.float32)


def prepare_fastdllm(
    context: PresetContext,
    *,
    steps: int = 128,
    gen_length: int = 128,
    block_length: int = 128,
    temperature: float = 0.0,
    remasking: str = "low_confidence",
    mask_id: int | None = None,
    threshold: float | None = None,
    factor: float | None = None,
    use_cache: str | None = None,
    cfg_scale: float = 0.0,
    logits_eos_inf: bool = False,
    confidence_eos_eot_inf: bool = False,
    eot_token_id: int | None = None,
) -> Prepared:
    """NVlabs/Fast-dLLM LLaDA sampling; ``factor`` takes precedence over ``threshold``.

    ``use_cache``: ``None`` (``generate``), ``"prefix"`` (``generate_with_prefix_cache``) or
    ``"dual"`` (``generate_with_dual_cache``). Unlike the reference, prompts may differ in length.
    """
    return _prepare(context, steps=steps, gen_length=gen_length, block_length=block_length,
                    temperature=temperature, cfg_scale=cfg_scale, remasking=remasking,
                    mask_id=mask_id, logits_eos_inf=logits_eos_inf,
                    confidence_eos_eot_inf=confidence_eos_eot_inf, eot_token_id=eot_token_id,
                    prob_dtype=torch.float64, threshold=threshold, factor=factor,
                    use_cache=use_cache)


LLADA = Preset(
    name="llada",
    description="LLaDA generate (ML-GSAI/LLaDA): semi-autoregressive blocks, low-confidence "
                "remasking, CFG",
    prepare=prepare_llada,
)

FASTDLLM = Preset(
    name="fastdllm",
    description="Fast-dLLM LLaDA sampling: prefix/dual KV cache, confidence threshold, factor rule",
    prepare=prepare_fastdllm,
)
