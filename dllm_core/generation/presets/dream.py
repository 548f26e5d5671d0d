"""Dream's ``diffusion_generate`` (Dream-org hub code) and Fast-dLLM's Dream samplers.

The canvas is the left-padded prompt followed by ``max_new_tokens`` masks; with padding, rotary
positions count attended tokens only. Tokens come from Dream's ``sample_tokens`` (temperature,
top-p, top-k; greedy at temperature 0) and the model's logits are shifted by one (the family's
``logit_shift``). ``alg`` chooses the rule:

* ``"origin"``: each masked token is revealed with probability ``1 - s / t`` on the time grid
  ``linspace(1, eps, steps + 1)`` (all on the last step); it draws ``torch.rand`` over the masked
  positions in row-major order, so a run after ``torch.manual_seed`` matches the reference;
* ``"maskgit_plus"`` / ``"topk_margin"`` / ``"entropy"``: the ``int(mean_masked * (1 - s / t))``
  positions with the highest probability / top-1 minus top-2 margin / negative entropy, or with
  ``alg_temp > 0`` that many drawn from ``softmax(confidence / alg_temp)``;
* ``"confidence_threshold"`` (Fast-dLLM): a quota of ``masked / steps`` per step, of which the
  best is always committed and the rest only with probability ``>= threshold``; deferred tokens
  join the next step's quota, and steps continue until nothing is masked.

With ``block_length`` (or ``dual_cache`` / ``use_cache``) this is Fast-dLLM's block sampler
(``generation_utils_block``): blocks of ``block_length`` with ``steps / num_blocks`` steps each
and a key-value cache (prefix, or dual with ``dual_cache=True``). Each block's first forward
builds the cache and commits the block's first position; the remaining steps use the threshold
rule for ``"confidence_threshold"`` and negative entropy on the block's own time grid for any
other ``alg``, as the reference does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dllm_core.generation.cache import CacheMode
from dllm_core.generation.canvas import append_masks
from dllm_core.generation.commit import BernoulliCommit, FirstMaskedCommit, ThresholdCommit, TopKCommit
from dllm_core.generation.confidence import (
    ConfidenceScore,
    MarginConfidence,
    NegEntropyConfidence,
    ProbabilityConfidence,
)
from dllm_core.generation.config import GenerationConfig
from dllm_core.generation.contract import (
    COUNT,
    NON_NEGATIVE,
    OPEN_PROBABILITY,
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
from dllm_core.generation.tokens import CategoricalChooser
from dllm_core.generation.transfer import CarryOverQuota, DreamTimeGrid, UntilDone

#: Dream's default ``max_length`` (20) counted past the prompt when neither length is given
DEFAULT_NEW_TOKENS = 20

ALGORITHMS = ("origin", "maskgit_plus", "topk_margin", "entropy", "confidence_threshold")

#: the score each ``alg`` ranks positions by (``origin`` reveals at random and ignores it)
CONFIDENCE_OF: dict[str, ConfidenceScore] = {
    "origin": ProbabilityConfidence(),
    "maskgit_plus": ProbabilityConfidence(),
    "topk_margin": MarginConfidence(),
    "entropy": NegEntropyConfidence(),
    "confidence_threshold": ProbabilityConfidence(),
}


@dataclass(frozen=True)
class DreamParams:
    """Parameters of Dream ``diffusion_generate`` and Fast-dLLM's Dream variants."""

    steps: int = params_field(512, "denoising steps (over the whole answer, or split over its blocks)")
    max_new_tokens: int | None = params_field(None, "tokens to generate (default: max_length - prompt, else 20)")
    max_length: int | None = params_field(None, "prompt plus answer length, when max_new_tokens is not given")
    alg: str = params_field("origin", "origin, maskgit_plus, topk_margin, entropy or confidence_threshold")
    alg_temp: float | None = params_field(None, "sample positions from softmax(confidence / alg_temp)")
    temperature: float = params_field(0.0, "token sampling temperature (0: greedy)")
    top_p: float | None = params_field(None, "nucleus sampling mass")
    top_k: int | None = params_field(None, "sample among the k most likely tokens")
    eps: float = params_field(1e-3, "end of the time grid linspace(1, eps, steps + 1)")
    mask_token_id: int | None = params_field(None, "mask token id (default: the checkpoint's)")
    threshold: float = params_field(0.9, "confidence_threshold: commit tokens at least this probable")
    block_length: int | None = params_field(None, "Fast-dLLM block sampler's block length (default 32 there)")
    dual_cache: bool = params_field(False, "Fast-dLLM block sampler with the dual cache")
    use_cache: str | None = params_field(None, "none, prefix or dual: the block sampler's cache")
    suppress_mask_token: bool = params_field(
        False, "never choose the mask id (the reference may, leaving that position masked)")

    def __post_init__(self) -> None:
        check_ranges(self, steps=COUNT, max_new_tokens=COUNT, max_length=COUNT, alg_temp=NON_NEGATIVE,
                     temperature=NON_NEGATIVE, top_p=OPEN_PROBABILITY, top_k=COUNT, eps=OPEN_PROBABILITY,
                     threshold=PROBABILITY, block_length=COUNT)


def prepare_dream(context: PresetContext, params: DreamParams) -> Prepared:
    """Dream ``diffusion_generate`` and Fast-dLLM's variants (see the module doc).

    ``max_new_tokens`` defaults to ``max_length - prompt length``, or 20; ``mask_token_id`` to
    the model config's. ``use_cache`` (``"none"``, ``"prefix"``, ``"dual"``) overrides
    ``dual_cache`` in the block sampler.
    """
    alg, steps, block_length = params.alg, params.steps, params.block_length
    check_choice("alg", alg, ALGORITHMS)
    check_choice("use_cache", params.use_cache, (None, "none", "prefix", "dual"))
    check_positive(steps=steps)
    prompts = context.prompt_batch()
    max_new_tokens = params.max_new_tokens
    if max_new_tokens is None:
        max_new_tokens = (params.max_length - prompts.shape[1] if params.max_length is not None
                          else DEFAULT_NEW_TOKENS)
    mask = context.token_id(params.mask_token_id, "mask_token_id", "mask_token_id")
    canvas = append_masks(prompts, context.attention_mask, max_new_tokens, mask, positions="padding")
    shared = dict(mask_token_id=mask, tokens=CategoricalChooser(params.temperature, top_k=params.top_k,
                                                                top_p=params.top_p),
                  eos_token_id=context.eos_token_id, suppress_mask_token=params.suppress_mask_token)
    alg_temp = params.alg_temp or 0.0
    if block_length is None and not params.dual_cache and params.use_cache is None:
        config = _hub_config(alg, steps, params.eps, alg_temp, params.threshold, shared)
    else:
        block_length = block_length or 32
        check_positive(block_length=block_length)
        if max_new_tokens and (max_new_tokens % block_length or steps % (max_new_tokens // block_length)):
            raise ValueError(f"max_new_tokens ({max_new_tokens}) must be a multiple of block_length "
                             f"({block_length}) and steps ({steps}) of the number of blocks")
        steps_per_block = steps // max(canvas.num_blocks(block_length), 1)
        cache = params.use_cache or ("dual" if params.dual_cache else "prefix")
        config = _block_config(alg, steps_per_block, params.eps, alg_temp, params.threshold, shared,
                               block_length, cache)
    return Prepared(canvas, config, context.capabilities)


def _hub_config(alg: str, steps: int, eps: float, alg_temp: float, threshold: float,
                shared: dict[str, Any]) -> GenerationConfig:
    """``diffusion_generate`` of the hub code (and Fast-dLLM's ``confidence_threshold``)."""
    if alg == "origin":
        transfer, commit = DreamTimeGrid(steps, eps), BernoulliCommit()
    elif alg == "confidence_threshold":
        transfer, commit = CarryOverQuota(steps), ThresholdCommit(threshold)
    else:
        transfer, commit = DreamTimeGrid(steps, eps), TopKCommit(alg_temp)
    return GenerationConfig(transfer=transfer, confidence=CONFIDENCE_OF[alg], commit=commit, **shared)


def _block_config(alg: str, steps_per_block: int, eps: float, alg_temp: float, threshold: float,
                  shared: dict[str, Any], block_length: int, cache: CacheMode) -> GenerationConfig:
    """Fast-dLLM's block sampler: first position from the cache-building call, then the rule."""
    if alg == "confidence_threshold":
        transfer, commit, confidence = UntilDone(), ThresholdCommit(threshold), ProbabilityConfidence()
    elif steps_per_block < 2:
        raise ValueError("the block sampler needs at least 2 steps per block (the first only "
                         f"commits the block's first token); got {steps_per_block}")
    else:
        transfer, commit = DreamTimeGrid(steps_per_block, eps), TopKCommit(alg_temp)
        confidence = NegEntropyConfidence()
    return GenerationConfig(transfer=transfer, block_length=block_length, confidence=confidence,
                            commit=commit, block_start_commit=FirstMaskedCommit(), cache=cache,
                            **shared)


DREAM = Preset(
    name="dream",
    description="Dream diffusion_generate (origin, maskgit_plus, topk_margin, entropy) and "
                "Fast-dLLM's Dream confidence_threshold / block prefix-dual cache",
    params_class=DreamParams,
    prepare=prepare_dream,
    roles=ParameterRoles(length="max_new_tokens", block="block_length", steps="steps", mask_id="mask_token_id"),
)
