"""dllm's ``BD3LMSampler.sample`` (ZHZisZZ/dllm ``dllm/core/samplers/bd3lm.py``): block diffusion
for A2D and other BD3LM-trained models.

Prompts are left-padded with the pad id to ``P = ceil(max_len / block_size) * block_size``
columns; ``max_new_tokens`` answer tokens follow in ``num_blocks = ceil(max_new_tokens /
block_size)`` blocks (the last one may be shorter), each with ``steps_per_block = ceil(steps /
num_blocks)`` steps (or the ``steps_per_block`` given). Per block:

* one forward over everything before the block (counted in NFE), whose keys/values the block's
  steps attend to; here it runs only the tokens not yet cached (the exact cache of
  :mod:`~dllm_core.generation.block`), the reference recomputes the whole prefix;
* the step counts of :class:`~dllm_core.generation.transfer.ScheduleRounded` (dllm's
  ``get_num_transfer_tokens`` with the scheduler, linear by default; zero-count steps dropped);
* LLaDA's token choice (greedy, or float64 Gumbel-max at ``temperature > 0`` drawn over the
  block's ``[B, W, V]`` logits) and ``low_confidence`` / ``random`` remasking; the ``count``
  most confident masked positions of the block are committed;
* after the block, a row holding the tokenizer's EOS in the block is done; generation stops
  once every row is done (the canvas ends with that block).

Attention is block-causal on the padded grid (block ``j // block_size``); every token equal to
the pad id is padding, prompt and finished answer alike (the reference's ``x != pad_token_id``,
which also hides a BOS equal to the pad id, as dllm sets them for Qwen), and rotary positions
count the other tokens only. As in the reference the mask id itself may be chosen: that
position stays masked (``suppress_mask_token=True`` never chooses it).

Not implemented (a clear error): ``cfg_scale > 0`` (the reference runs a second, unconditional
prefix and step forward) and ``stochastic_transfer`` (binomial step counts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from dllm_core.generation.block import BlockConfig
from dllm_core.generation.block_canvas import left_padded_prompts
from dllm_core.generation.block_generator import BlockContext, BlockGenerator, BlockPrepared
from dllm_core.generation.commit import TopKCommit
from dllm_core.generation.contract import COUNT, NON_NEGATIVE, ParameterRoles, check_ranges, params_field
from dllm_core.generation.presets.base import check_positive
from dllm_core.generation.presets.llada import remasking_confidence
from dllm_core.generation.tokens import GumbelChooser
from dllm_core.generation.transfer import ScheduleRounded
from dllm_core.schedules import LinearSchedule, NoiseSchedule


@dataclass(frozen=True)
class BD3LMParams:
    """Parameters of dllm's ``BD3LMSampler.sample`` (its names and defaults) and the token ids
    its tokenizer would give."""

    steps: int = params_field(128, "denoising steps over the whole answer (ceil(steps / num_blocks) per block)")
    max_new_tokens: int | None = params_field(128, "tokens to generate (None: max_length minus the longest prompt)")
    max_length: int | None = params_field(None, "prompt plus answer length, used when max_new_tokens is None")
    block_size: int = params_field(32, "block length (the last block may be shorter)")
    steps_per_block: int | None = params_field(None, "steps per block (default: ceil(steps / num_blocks))")
    temperature: float = params_field(0.0, "Gumbel-max sampling temperature (0: greedy)")
    remasking: str = params_field("low_confidence", "low_confidence or random commit order")
    stochastic_transfer: bool = params_field(False, "binomial step counts (not implemented)")
    cfg_scale: float = params_field(0.0, "classifier-free guidance scale (only 0: not implemented)")
    cfg_keep_tokens: Sequence[int] | None = params_field(None, "ids the guidance pass keeps (with cfg_scale)")
    right_shift_logits: bool | None = params_field(
        None, "predict token i from position i - 1 (default: the family's logit shift)")
    scheduler: NoiseSchedule | None = params_field(None, "noise schedule of the step counts (default: linear)")
    mask_token_id: int | None = params_field(None, "mask token id (default: the checkpoint's)")
    suppress_mask_token: bool = params_field(
        False, "never choose the mask id (the reference may, leaving that position masked)")

    def __post_init__(self) -> None:
        check_ranges(self, steps=COUNT, max_new_tokens=COUNT, max_length=COUNT, block_size=COUNT,
                     steps_per_block=COUNT, temperature=NON_NEGATIVE, cfg_scale=NON_NEGATIVE)


def prepare_bd3lm(context: BlockContext, params: BD3LMParams) -> BlockPrepared:
    """dllm ``BD3LMSampler.sample`` (see the module doc); pad and EOS ids are the tokenizer's
    (``context.special``), else the model config's."""
    if params.cfg_scale > 0:
        raise ValueError("cfg_scale > 0 is not implemented for bd3lm; use cfg_scale=0")
    if params.stochastic_transfer:
        raise ValueError("stochastic_transfer=True is not implemented for bd3lm; use the deterministic counts "
                         "(stochastic_transfer=False)")
    check_positive(steps=params.steps, block_size=params.block_size)
    longest = max(int(row.numel()) for row in context.prompts)
    length = params.max_new_tokens
    if not length:
        if params.max_length is None:
            raise ValueError("set max_new_tokens (or max_length)")
        length = params.max_length - longest
    if length < 1:
        raise ValueError(f"max_length ({params.max_length}) leaves no room after the longest prompt ({longest} "
                         "tokens); raise max_length or set max_new_tokens")
    num_blocks = math.ceil(length / params.block_size)
    steps_per_block = params.steps_per_block or math.ceil(params.steps / num_blocks)
    check_positive(steps_per_block=steps_per_block)
    mask = context.required_id(params.mask_token_id, "mask", "mask_token_id")
    pad = context.token_id(None, "pad")
    eos = context.token_id(None, "eos")
    filler = pad if pad is not None else (eos if eos is not None else mask)
    canvas = left_padded_prompts(context.prompts, length, params.block_size, mask, filler)
    shift = context.capabilities.logit_shift if params.right_shift_logits is None else params.right_shift_logits
    config = BlockConfig(
        mask_token_id=mask,
        transfer=ScheduleRounded(steps_per_block, params.scheduler or LinearSchedule()),
        tokens=GumbelChooser(params.temperature),
        confidence=remasking_confidence(params.remasking),
        commit=TopKCommit(),
        finish_in_own_call=True,
        suppress_mask_token=params.suppress_mask_token,
        padding_token_id=pad,
        shift=shift,
        eos_token_id=eos,
    )
    return BlockPrepared(canvas, config)


BD3LM = BlockGenerator(
    name="bd3lm",
    description="dllm BD3LMSampler: block diffusion over an exact KV cache (A2D models)",
    params_class=BD3LMParams,
    prepare=prepare_bd3lm,
    roles=ParameterRoles(length="max_new_tokens", block="block_size", steps="steps", mask_id="mask_token_id"),
)
