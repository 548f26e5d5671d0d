"""Which jobs can join a running batch between steps, and each row's run as it is alone."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Hashable, Sequence

import torch

from dllm_core.generation.api import preset_context
from dllm_core.generation.presets.base import Prepared, Preset
from dllm_core.generation.running import shared_settings, stepwise_obstacle
from dllm_core.session import InferenceSession


def prepare_row(session: InferenceSession, row: Sequence[int], params: Any) -> Prepared:
    """The run of ``session``'s preset on the one prompt ``row``, as :meth:`Preset.complete`
    prepares it (no padding; it stops at EOS when the checkpoint has one)."""
    eos = session.special.eos_token_id
    context = preset_context(session.model, torch.tensor([list(row)], dtype=torch.long, device=session.device),
                             family=session.family, eos_token_id=eos, eot_token_id=session.special.eot_token_id)
    prepared = session.generator.prepare(context, params)
    return replace(prepared, config=replace(prepared.config, stop_at_eos=eos is not None))


def step_key(session: InferenceSession, params: Any, row: Sequence[int]) -> Hashable | None:
    """What the rows of a running batch share (generator, settings), or ``None`` when the run of
    ``params`` cannot join one (then it is batched whole, as a group)."""
    generator = session.generator
    if not isinstance(generator, Preset) or generator.ragged_rows or type(generator).complete is not Preset.complete:
        return None
    try:
        prepared = prepare_row(session, row, params)
    except ValueError:
        return None  # the group path reports the generator's refusal
    if stepwise_obstacle(prepared) is not None:
        return None
    return generator.name, shared_settings(prepared.config)
