"""dllm's ``MDLMSampler.sample`` (ZHZisZZ/dllm), the sampler of BERT-chat.

Prompts of any lengths each get ``max_new_tokens`` masks; rows are right-padded with the EOS
id (attention 0 there) and blocks of ``block_size`` start at each row's own prompt end. With
``num_blocks = ceil(max_new_tokens / block_size)``, every block has ``ceil(steps / num_blocks)``
steps whose counts come from the noise schedule (:class:`~dllm_core.generation.transfer.
ScheduleRounded`, zero-count steps dropped). Token choice and confidences are LLaDA's (float32).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Sequence

import torch

from dllm_core.generation.canvas import right_padded
from dllm_core.generation.commit import TopKCommit
from dllm_core.generation.config import GenerationConfig
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


def prepare_mdlm(
    context: PresetContext,
    *,
    steps: int = 128,
    max_new_tokens: int = 128,
    block_size: int = 128,
    temperature: float = 0.0,
    remasking: str = "low_confidence",
    cfg_scale: float = 0.0,
    suppress_tokens: Sequence[int] | None = None,
    begin_suppress_tokens: Sequence[int] | None = None,
    right_shift_logits: bool | None = None,
    scheduler: NoiseSchedule | None = None,
    mask_token_id: int | None = None,
) -> Prepared:
    """dllm ``MDLMSampler.sample`` (see the module doc).

    ``suppress_tokens`` are never generated; ``begin_suppress_tokens`` get confidence 0 (the
    reference removes them from the confidence softmax only). ``right_shift_logits`` defaults to
    the family's logit shift; ``scheduler`` to the linear schedule; ``mask_token_id`` to the
    model config's (BERT tokenizers keep it in the tokenizer: pass it).
    """
    check_positive(steps=steps, block_size=block_size)
    mask = context.token_id(mask_token_id, "mask_token_id", "mask_token_id")
    eos = context.token_id(context.eos_token_id, "eos_token_id", "eos_token_id")
    canvas = right_padded(prompt_rows(context), max_new_tokens, mask, eos)
    steps_per_block = math.ceil(steps / max(math.ceil(max_new_tokens / block_size), 1))
    config = GenerationConfig(
        mask_token_id=mask,
        transfer=ScheduleRounded(steps_per_block, scheduler or LinearSchedule()),
        block_length=block_size,
        tokens=GumbelChooser(temperature, confidence_suppress_tokens=tuple(begin_suppress_tokens or ())),
        confidence=remasking_confidence(remasking),
        commit=TopKCommit(),
        cfg_scale=cfg_scale,
        suppress_tokens=tuple(suppress_tokens or ()),
        eos_token_id=eos,
    )
    capabilities = context.capabilities
    if right_shift_logits is not None:
        capabilities = replace(capabilities, logit_shift=right_shift_logits)
    return Prepared(canvas, config, capabilities)


MDLM = Preset(
    name="mdlm",
    description="dllm MDLMSampler (BERT-chat): right-padded prompts, per-row blocks, "
                "schedule-derived counts",
    prepare=prepare_mdlm,
)
