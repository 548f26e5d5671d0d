"""dllm's ``MDLMSampler.sample`` (ZHZisZZ/dllm), the sampler of BERT-chat.

Prompts of any lengths each get ``max_new_tokens`` masks; rows are right-padded with the EOS
id (attention 0 there) and blocks of ``block_size`` start at each row's own prompt end. With
``num_blocks = ceil(max_new_tokens / block_size)``, every block has ``ceil(steps / num_blocks)``
steps whose counts come from the noise schedule (:class:`~dllm_core.generation.transfer.
ScheduleRounded`, zero-count steps dropped). Token choice and confidences are LLaDA's (float32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import torch

from dllm_core.generation.canvas import right_padded
from dllm_core.generation.commit import TopKCommit
from dllm_core.generation.config import GenerationConfig
from dllm_core.generation.contract import ParameterRoles, params_field
from dllm_core.generation.presets.base import Preset, PresetContext, Prepared, check_positive
from dllm_core.generation.presets.llada import remasking_confidence
from dllm_core.generation.tokens import GumbelChooser
from dllm_core.generation.transfer import ScheduleRounded
from dllm_core.schedules import LinearSchedule, NoiseSchedule


def prompt_rows(context: PresetContext) -> list[torch.Tensor]:
    """The prompts as 1D tensors: a list of rows as given, or a right-padded ``[B, Lp]`` batch
    cut at each row's attention-mask length."""
    ids: Any = context.input_ids
    if isinstance(ids, torch.Tensor) and ids.dim() == 2:
        lengths = (context.attention_mask.sum(dim=1).tolist() if context.attention_mask is not None
                   else [ids.shape[1]] * ids.shape[0])
        return [row[: int(n)] for row, n in zip(ids, lengths)]
    rows: Sequence[Any] = ids
    return [torch.as_tensor(row, dtype=torch.long, device=context.device) for row in rows]


@dataclass(frozen=True)
class MDLMParams:
    """Parameters of dllm's ``MDLMSampler.sample``."""

    steps: int = params_field(128, "denoising steps over the whole answer")
    max_new_tokens: int = params_field(128, "tokens to generate after each prompt")
    block_size: int = params_field(128, "block length, counted from each row's own prompt end")
    temperature: float = params_field(0.0, "Gumbel-max sampling temperature (0: greedy)")
    remasking: str = params_field("low_confidence", "low_confidence or random commit order")
    cfg_scale: float = params_field(0.0, "classifier-free guidance scale (0: off)")
    suppress_tokens: Sequence[int] | None = params_field(None, "token ids never generated")
    begin_suppress_tokens: Sequence[int] | None = params_field(None, "token ids given confidence 0")
    right_shift_logits: bool | None = params_field(None, "predict token i from position i - 1 (default: the family's)")
    scheduler: NoiseSchedule | None = params_field(None, "noise schedule of the step counts (default: linear)")
    mask_token_id: int | None = params_field(None, "mask token id (default: the checkpoint's)")


def prepare_mdlm(context: PresetContext, params: MDLMParams) -> Prepared:
    """dllm ``MDLMSampler.sample`` (see the module doc).

    ``suppress_tokens`` are never generated; ``begin_suppress_tokens`` get confidence 0 (the
    reference removes them from the confidence softmax only). ``right_shift_logits`` defaults to
    the family's logit shift; ``scheduler`` to the linear schedule; ``mask_token_id`` to the
    model config's (BERT tokenizers keep it in the tokenizer: pass it).
    """
    check_positive(steps=params.steps, block_size=params.block_size)
    mask = context.token_id(params.mask_token_id, "mask_token_id", "mask_token_id")
    eos = context.token_id(context.eos_token_id, "eos_token_id", "eos_token_id")
    canvas = right_padded(prompt_rows(context), params.max_new_tokens, mask, eos)
    steps_per_block = math.ceil(params.steps / max(math.ceil(params.max_new_tokens / params.block_size), 1))
    config = GenerationConfig(
        mask_token_id=mask,
        transfer=ScheduleRounded(steps_per_block, params.scheduler or LinearSchedule()),
        block_length=params.block_size,
        tokens=GumbelChooser(params.temperature, confidence_suppress_tokens=tuple(params.begin_suppress_tokens or ())),
        confidence=remasking_confidence(params.remasking),
        commit=TopKCommit(),
        cfg_scale=params.cfg_scale,
        suppress_tokens=tuple(params.suppress_tokens or ()),
        eos_token_id=eos,
    )
    capabilities = context.capabilities
    if params.right_shift_logits is not None:
        capabilities = replace(capabilities, logit_shift=params.right_shift_logits)
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
