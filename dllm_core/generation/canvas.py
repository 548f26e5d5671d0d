"""The canvas: the token sequence being denoised, its padding, positions and block layout.

Generation fills the mask tokens of a canvas ``[B, L]``. Each row has a *region*, the span from
its first to its last mask token; semi-autoregressive blocks of ``block_length`` positions tile
every region from its start, so block ``b`` of row ``r`` covers

    [region_start[r] + b * block_length, min(region_start[r] + (b + 1) * block_length, region_end[r])).

For ordinary generation the region is the tail of masks appended after the prompt; with masks
inside the input (infilling) it starts at the first of them. Rows may have regions at different
offsets (right-padded prompts of different lengths), so blocks are per-row tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import torch

PositionPolicy = Literal["arange", "padding"]


@dataclass(frozen=True)
class Canvas:
    """The initial canvas and its fixed layout.

    Attributes:
        tokens: ``[B, L]`` initial ids; positions to generate hold the mask id.
        attention_mask: ``[B, L]`` 1 where a position may be attended to, 0 for padding;
            ``None`` when every position is attended to.
        position_ids: ``[B, L]`` rotary positions; ``None`` means ``0..L-1`` in every row.
        region_start: ``[B]`` first mask position of each row (``L`` for a row without masks).
        region_end: ``[B]`` one past the last mask position of each row (``L`` without masks).
    """

    tokens: torch.Tensor
    attention_mask: torch.Tensor | None
    position_ids: torch.Tensor | None
    region_start: torch.Tensor
    region_end: torch.Tensor

    def num_blocks(self, block_length: int) -> int:
        """How many blocks of ``block_length`` tile the longest region."""
        longest = int((self.region_end - self.region_start).max()) if self.tokens.numel() else 0
        return math.ceil(longest / block_length)

    def block_bounds(self, index: int, block_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(start [B], end [B])`` of block ``index`` in each row (empty when ``start >= end``)."""
        start = self.region_start + index * block_length
        end = torch.minimum(start + block_length, self.region_end)
        return start, end


def mask_region(tokens: torch.Tensor, mask_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(first mask position, last mask position + 1)`` per row; ``(L, L)`` for rows without one."""
    length = tokens.shape[1]
    is_mask = tokens == mask_id  # [B, L]
    positions = torch.arange(length, device=tokens.device)  # [L]
    start = torch.where(is_mask, positions, length).min(dim=1).values
    end = torch.where(is_mask, positions + 1, 0).max(dim=1).values
    end = torch.where(is_mask.any(dim=1), end, length)
    return start, end


def _normalised_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """``None`` for an all-ones mask (it means "attend everywhere"), else a long tensor."""
    if attention_mask is None or bool(attention_mask.bool().all()):
        return None
    return attention_mask.long()


def _padding_positions(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """Positions counted over attended tokens only: ``cumsum(mask) - 1``; padding gets 1.

    This is what Dream's sampler feeds its rotary embedding for left-padded rows (padding is
    never attended to, so its value is irrelevant; 1 mirrors the reference).
    """
    if attention_mask is None:
        return None
    positions = attention_mask.cumsum(dim=1) - 1  # [B, L]
    return positions.masked_fill(attention_mask == 0, 1)


def append_masks(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    gen_length: int,
    mask_id: int,
    positions: PositionPolicy = "arange",
) -> Canvas:
    """A canvas of left-padded prompts ``[B, Lp]`` followed by ``gen_length`` mask tokens.

    ``attention_mask`` ``[B, Lp]`` marks padding with 0 (the appended masks are attended to).
    ``positions="arange"`` numbers every row ``0..L-1`` (LLaDA's reference ignores padding in
    its positions); ``"padding"`` numbers attended tokens only (Dream).
    """
    batch = input_ids.shape[0]
    tail = torch.full((batch, gen_length), mask_id, dtype=input_ids.dtype, device=input_ids.device)
    tokens = torch.cat([input_ids, tail], dim=1)  # [B, Lp + gen_length]
    mask = None
    if attention_mask is not None:
        ones = torch.ones((batch, gen_length), dtype=torch.long, device=input_ids.device)
        mask = _normalised_mask(torch.cat([attention_mask.long(), ones], dim=1))
    position_ids = _padding_positions(mask) if positions == "padding" else None
    start, end = mask_region(tokens, mask_id)
    return Canvas(tokens, mask, position_ids, start, end)


def right_padded(
    prompts: Sequence[torch.Tensor],
    max_new_tokens: int,
    mask_id: int,
    pad_id: int,
) -> Canvas:
    """Prompts of different lengths, each followed by ``max_new_tokens`` masks, right-padded.

    Row ``r`` is ``prompt_r``, then ``max_new_tokens`` mask ids, then ``pad_id`` filler up to
    ``L = max(len(prompt)) + max_new_tokens``; the filler has attention 0. This is the layout of
    dllm's ``MDLMSampler`` (it pads with the EOS id), whose blocks start at each row's own
    prompt end.
    """
    lengths = [int(p.shape[0]) for p in prompts]
    width = max(lengths) + max_new_tokens
    device = prompts[0].device
    tokens = torch.full((len(prompts), width), pad_id, dtype=torch.long, device=device)
    prompt_len = torch.tensor(lengths, device=device)  # [B]
    columns = torch.arange(width, device=device)  # [L]
    generated = (columns >= prompt_len[:, None]) & (columns < prompt_len[:, None] + max_new_tokens)
    tokens[generated] = mask_id
    tokens[columns < prompt_len[:, None]] = torch.cat([p.long() for p in prompts])
    mask = _normalised_mask((columns < prompt_len[:, None] + max_new_tokens).long())
    start, end = mask_region(tokens, mask_id)
    return Canvas(tokens, mask, None, start, end)
