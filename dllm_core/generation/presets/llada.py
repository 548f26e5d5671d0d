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

As in the references, the mask id itself can be chosen: a selected position whose chosen token
is the mask id stays masked (its transfer is used up), can be filled during a later block, and
may still be masked in the output. ``suppress_mask_token=True`` never chooses it instead. Seeded
sampling (``temperature > 0``, ``remasking="random"``) draws the same numbers in the same order
as the references, so a run after ``torch.manual_seed`` reproduces theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dllm_core.generation.canvas import append_masks
from dllm_core.generation.commit import CommitRule, EntropyBoundCommit, FactorCommit, ThresholdCommit, TopKCommit
from dllm_core.generation.confidence import (
    ConfidenceScore,
    NegEntropyConfidence,
    ProbabilityConfidence,
    RandomConfidence,
)
from dllm_core.generation.compiled import CompileSetting
from dllm_core.generation.config import GenerationConfig
from dllm_core.generation.contract import (
    COUNT,
    NON_NEGATIVE,
    POSITIVE,
    PROBABILITY,
    ParameterRoles,
    check_ranges,
    params_field,
)
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
    params: LLaDAParams,
    *,
    prob_dtype: torch.dtype,
    threshold: float | None = None,
    factor: float | None = None,
    entropy_bound: float | None = None,
    use_cache: str | None = None,
    cache_refresh: int = 0,
) -> Prepared:
    check_choice("use_cache", use_cache, (None, "prefix", "dual"))
    check_positive(steps=params.steps, block_length=params.block_length)
    if params.gen_length % params.block_length != 0:
        raise ValueError(f"gen_length ({params.gen_length}) must be a multiple of block_length "
                         f"({params.block_length})")
    if params.gen_length and params.steps % (params.gen_length // params.block_length) != 0:
        raise ValueError(f"steps ({params.steps}) must be a multiple of the number of blocks "
                         f"({params.gen_length // params.block_length})")
    mask = context.token_id(params.mask_id, "mask_token_id", "mask_id")
    canvas = append_masks(context.prompt_batch(), context.attention_mask, params.gen_length, mask)
    steps_per_block = max(params.steps // max(canvas.num_blocks(params.block_length), 1), 1)
    eos = context.eos_token_id
    never = (context.token_id(eos, "eos_token_id", "eos_token_id"),) if params.logits_eos_inf else ()
    transfer: TransferSchedule = LinearSplit(steps_per_block)
    commit: CommitRule = TopKCommit()
    confidence = remasking_confidence(params.remasking)
    if entropy_bound is not None:
        transfer, commit, confidence = UntilDone(), EntropyBoundCommit(entropy_bound), NegEntropyConfidence()
    elif factor is not None:
        transfer, commit = UntilDone(), FactorCommit(factor)
    elif threshold is not None:
        transfer, commit = UntilDone(), ThresholdCommit(threshold)
    config = GenerationConfig(
        mask_token_id=mask,
        transfer=transfer,
        block_length=params.block_length,
        tokens=GumbelChooser(params.temperature, prob_dtype=prob_dtype,
                             confidence_suppress_tokens=_ended_ids(context, params)),
        confidence=confidence,
        commit=commit,
        cfg_scale=params.cfg_scale,
        suppress_tokens=never,
        cache=use_cache or "none",
        cache_refresh=cache_refresh,
        eos_token_id=eos,
        suppress_mask_token=params.suppress_mask_token,
        carry_over_masks=True,
        prefix_noise_draws=2,  # generate_with_prefix_cache draws (and drops) its noise once more
        static_shapes=params.static_shapes,
        compile=params.compile,
    )
    return Prepared(canvas, config, context.capabilities)


def _ended_ids(context: PresetContext, params: LLaDAParams) -> tuple[int, ...]:
    """The ids ``confidence_eos_eot_inf`` gives confidence 0: EOS and EoT at temperature 0, only
    EoT otherwise.

    The reference writes ``logits_with_noise[..., eos] = logits[..., eot] = -inf`` after choosing
    the tokens; at temperature 0 ``logits_with_noise`` *is* ``logits``, so both reach the
    confidence softmax, while with Gumbel noise it is a copy and only EoT does.
    """
    if not params.confidence_eos_eot_inf:
        return ()
    eot = context.token_id(context.eot_token_id, "eot_token_id", "eot_token_id")
    if params.temperature > 0:
        return (eot,)
    return (context.token_id(context.eos_token_id, "eos_token_id", "eos_token_id"), eot)


@dataclass(frozen=True)
class LLaDAParams:
    """Parameters of ML-GSAI/LLaDA ``generate`` (its names and defaults)."""

    steps: int = params_field(128, "denoising steps over the whole answer (a multiple of the number of blocks)")
    gen_length: int = params_field(128, "tokens to generate")
    block_length: int = params_field(128, "semi-autoregressive block length (divides gen_length)")
    temperature: float = params_field(0.0, "Gumbel-max sampling temperature (0: greedy)")
    cfg_scale: float = params_field(0.0, "classifier-free guidance scale (0: off)")
    remasking: str = params_field("low_confidence", "low_confidence or random commit order")
    mask_id: int | None = params_field(None, "mask token id (default: the checkpoint's)")
    logits_eos_inf: bool = params_field(False, "never generate EOS")
    confidence_eos_eot_inf: bool = params_field(
        False, "commit EoT (and, at temperature 0, EOS) predictions last, as the reference does")
    suppress_mask_token: bool = params_field(
        False, "never choose the mask id (the reference may, leaving that position masked)")
    static_shapes: bool = params_field(
        False, "same shapes for every model call of a block (LM head over the whole query window): "
        "what torch.compile / CUDA graphs need")
    compile: str | None = params_field(
        None, "torch.compile the denoising step: a mode (reduce-overhead = CUDA graphs, default, "
        "max-autotune) or a backend (inductor, aot_eager); implies static_shapes")

    def __post_init__(self) -> None:
        """Refuse out-of-range values (subclasses add theirs); ``gen_length`` 0 only fills the
        prompt's own masks (infilling)."""
        check_ranges(self, steps=COUNT, gen_length=NON_NEGATIVE, block_length=COUNT, temperature=NON_NEGATIVE,
                     cfg_scale=NON_NEGATIVE)
        if self.compile is not None:
            CompileSetting.parse(self.compile)


@dataclass(frozen=True)
class FastDLLMParams(LLaDAParams):
    """Parameters of NVlabs/Fast-dLLM's LLaDA samplers: LLaDA's plus threshold, factor and cache."""

    threshold: float | None = params_field(None, "commit every token whose probability reaches this")
    factor: float | None = params_field(None, "Fast-dLLM factor rule (takes precedence over threshold)")
    entropy_bound: float | None = params_field(
        None, "EB-sampler rule: commit the least uncertain tokens while their entropies beside the "
        "largest sum to at most this (nats; takes precedence over factor and threshold)")
    use_cache: str | None = params_field(None, "KV cache: None, prefix or dual")
    cache_refresh: int = params_field(
        0, "with a cache: recompute the whole canvas' keys/values every this many steps (0: only at "
        "each block's start, as Fast-dLLM does)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self, threshold=PROBABILITY, factor=POSITIVE, entropy_bound=NON_NEGATIVE,
                     cache_refresh=NON_NEGATIVE)


def prepare_llada(context: PresetContext, params: LLaDAParams) -> Prepared:
    """ML-GSAI/LLaDA ``generate``; ``mask_id`` defaults to the model config's ``mask_token_id``.

    ``logits_eos_inf`` never generates EOS; ``confidence_eos_eot_inf`` gives EoT predictions
    (and EOS ones at temperature 0, see :func:`_ended_ids`) confidence 0, so they are committed
    last. The EOS and EoT ids are the checkpoint's (``generate``'s ``eos_token_id`` /
    ``eot_token_id``; the reference hard-codes LLaDA-8B's 126081 and 126348).
    """
    return _prepare(context, params, prob_dtype=torch.float32)


def prepare_fastdllm(context: PresetContext, params: FastDLLMParams) -> Prepared:
    """NVlabs/Fast-dLLM LLaDA sampling; ``factor`` takes precedence over ``threshold``.

    ``use_cache``: ``None`` (``generate``), ``"prefix"`` (``generate_with_prefix_cache``) or
    ``"dual"`` (``generate_with_dual_cache``). Unlike the reference, prompts may differ in length.
    """
    return _prepare(context, params, prob_dtype=torch.float64, threshold=params.threshold,
                    factor=params.factor, entropy_bound=params.entropy_bound, use_cache=params.use_cache,
                    cache_refresh=params.cache_refresh)


ROLES = ParameterRoles(length="gen_length", block="block_length", steps="steps", mask_id="mask_id")

LLADA = Preset(
    name="llada",
    description="LLaDA generate (ML-GSAI/LLaDA): semi-autoregressive blocks, low-confidence "
                "remasking, CFG",
    params_class=LLaDAParams,
    prepare=prepare_llada,
    roles=ROLES,
)

FASTDLLM = Preset(
    name="fastdllm",
    description="Fast-dLLM LLaDA sampling: prefix/dual KV cache, confidence threshold, factor rule",
    params_class=FastDLLMParams,
    prepare=prepare_fastdllm,
    roles=ROLES,
)
