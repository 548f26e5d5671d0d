"""dllm's ``MDLMSampler.sample`` (ZHZisZZ/dllm), the sampler of BERT-chat.

Prompts of any lengths each get ``max_new_tokens`` masks; rows are right-padded with the EOS
id (attention 0 there) and blocks of ``block_size`` start at each row's own prompt end. With
``num_blocks = ceil(max_new_tokens / block_size)``, every block has ``ceil(steps / num_blocks)``
steps whose counts come from the noise schedule (:class:`~dllm_core.generation.transfer.
ScheduleRounded`, zero-count steps dropped). Token choice and confidences are LLaDA's (float32).

Prompts are a list of rows of any lengths (the reference's form) or a padded ``[B, Lp]`` tensor:
with an attention mask a row's prompt is its attended tokens, wherever the padding is; without
one, its tokens after the leading run of the model config's ``pad_token_id`` (left padding).
Either way the row becomes the same prompt as in list form. With ``right_shift_logits`` an empty
prompt becomes ``[BOS]``, so that the first answer token has an output to be read from.

As in the reference, the mask id itself may be chosen: a selected position whose chosen token is
the mask id stays masked (its count is used up) and any step of a later block may fill it
(candidates are all masks before the block's end). ``suppress_mask_token=True`` never chooses it.

Classifier-free guidance (``cfg_scale > 0``) masks the prompt in the unconditional pass, except
the tokens listed in ``cfg_keep_tokens`` (:mod:`dllm_core.generation.runner`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import torch

from dllm_core.generation.canvas import right_padded
from dllm_core.generation.commit import TopKCommit
from dllm_core.generation.config import GenerationConfig
from dllm_core.generation.contract import COUNT, NON_NEGATIVE, ParameterRoles, check_ranges, params_field
from dllm_core.generation.presets.base import Preset, PresetContext, Prepared, check_positive
from dllm_core.generation.presets.llada import remasking_confidence
from dllm_core.generation.tokens import GumbelChooser
from dllm_core.generation.transfer import ScheduleRounded
from dllm_core.schedules import LinearSchedule, NoiseSchedule


def prompt_rows(context: PresetContext) -> list[torch.Tensor]:
    """The prompts as 1D long tensors (see the module doc for the tensor form)."""
    ids: Any = context.input_ids
    if not isinstance(ids, torch.Tensor):
        return [torch.as_tensor(row, dtype=torch.long, device=context.device).reshape(-1) for row in ids]
    if ids.dim() != 2:
        raise ValueError(f"input_ids must be a list of prompts or a [batch, length] tensor, got shape "
                         f"{tuple(ids.shape)}")
    if context.attention_mask is not None:
        if context.attention_mask.shape != ids.shape:
            raise ValueError(f"attention_mask has shape {tuple(context.attention_mask.shape)}, input_ids "
                             f"{tuple(ids.shape)}: they must match")
        attended = context.attention_mask.bool()  # [B, Lp]
    else:
        pad = getattr(getattr(context.model, "config", None), "pad_token_id", None)
        attended = torch.ones_like(ids, dtype=torch.bool) if pad is None else (ids != pad).cumsum(dim=1) > 0
    return [row[keep].long() for row, keep in zip(ids, attended)]


@dataclass(frozen=True)
class MDLMParams:
    """Parameters of dllm's ``MDLMSampler.sample`` (its names and defaults)."""

    steps: int = params_field(128, "denoising steps over the whole answer")
    max_new_tokens: int = params_field(128, "tokens to generate after each prompt")
    block_size: int = params_field(128, "block length, counted from each row's own prompt end")
    temperature: float = params_field(0.0, "Gumbel-max sampling temperature (0: greedy)")
    remasking: str = params_field("low_confidence", "low_confidence or random commit order")
    cfg_scale: float = params_field(0.0, "classifier-free guidance scale (0: off)")
    cfg_keep_tokens: Sequence[int] | None = params_field(
        None, "token ids the unconditional guidance pass keeps in the prompt (the rest of it is masked)")
    suppress_tokens: Sequence[int] | None = params_field(None, "token ids never generated")
    begin_suppress_tokens: Sequence[int] | None = params_field(None, "token ids given confidence 0")
    right_shift_logits: bool | None = params_field(
        None, "predict token i from position i - 1, an empty prompt becoming [BOS] (default: the family's)")
    scheduler: NoiseSchedule | None = params_field(None, "noise schedule of the step counts (default: linear)")
    mask_token_id: int | None = params_field(None, "mask token id (default: the checkpoint's)")
    bos_token_id: int | None = params_field(
        None, "BOS id, the prompt of an empty row with right_shift_logits (default: the checkpoint's)")
    suppress_mask_token: bool = params_field(
        False, "never choose the mask id (the reference may, leaving that position masked)")

    def __post_init__(self) -> None:
        check_ranges(self, steps=COUNT, max_new_tokens=COUNT, block_size=COUNT, temperature=NON_NEGATIVE,
                     cfg_scale=NON_NEGATIVE)


def prepare_mdlm(context: PresetContext, params: MDLMParams) -> Prepared:
    """dllm ``MDLMSampler.sample`` (see the module doc).

    ``suppress_tokens`` are never generated; ``begin_suppress_tokens`` are removed from the
    confidence softmax only (a position predicting one gets confidence 0). ``right_shift_logits``
    defaults to the family's logit shift; ``scheduler`` to the linear schedule; ``mask_token_id``
    and ``bos_token_id`` to the model config's (BERT tokenizers keep them in the tokenizer: pass
    them).
    """
    check_positive(steps=params.steps, block_size=params.block_size)
    mask = context.token_id(params.mask_token_id, "mask_token_id", "mask_token_id")
    eos = context.token_id(context.eos_token_id, "eos_token_id", "eos_token_id")
    capabilities = context.capabilities
    if params.right_shift_logits is not None:
        capabilities = replace(capabilities, logit_shift=params.right_shift_logits)
    prompts = prompt_rows(context)
    if capabilities.logit_shift and any(len(row) == 0 for row in prompts):
        bos = torch.tensor([context.token_id(params.bos_token_id, "bos_token_id", "bos_token_id")],
                           device=context.device)
        prompts = [bos if len(row) == 0 else row for row in prompts]
    canvas = right_padded(prompts, params.max_new_tokens, mask, eos)
    steps_per_block = math.ceil(params.steps / max(math.ceil(params.max_new_tokens / params.block_size), 1))
    config = GenerationConfig(
        mask_token_id=mask,
        transfer=ScheduleRounded(steps_per_block, params.scheduler or LinearSchedule()),
        block_length=params.block_size,
        tokens=GumbelChooser(params.temperature, confidence_suppress_tokens=tuple(params.begin_suppress_tokens or ())),
        confidence=remasking_confidence(params.remasking),
        commit=TopKCommit(),
        cfg_scale=params.cfg_scale,
        cfg_keep_tokens=tuple(params.cfg_keep_tokens or ()),
        suppress_tokens=tuple(params.suppress_tokens or ()),
        eos_token_id=eos,
        suppress_mask_token=params.suppress_mask_token,
        carry_over_masks=True,
    )
    return Prepared(canvas, config, capabilities)


MDLM = Preset(
    name="mdlm",
    description="dllm MDLMSampler (BERT-chat): right-padded prompts, per-row blocks, "
                "schedule-derived counts",
    params_class=MDLMParams,
    prepare=prepare_mdlm,
    roles=ParameterRoles(length="max_new_tokens", block="block_size", steps="steps", mask_id="mask_token_id"),
    ragged_rows=True,
)
