"""The canvas of block diffusion: prompts and answer laid out on a grid of fixed blocks.

Block ``k`` covers canvas columns ``[k * block_length, min((k + 1) * block_length, T))`` in every
row, so all rows denoise the same columns at the same time. Each row's answer starts at
``region_start[r]`` (right after its prompt) and the loop denoises blocks ``first_block,
first_block + 1, ...`` in order; columns before a row's prompt are padding (``valid`` False: no
query attends to them and they do not count as positions).

Two layouts place prompts of different lengths so that every row sees the block grid its own
single-row run would see:

* :func:`left_padded_prompts` (dllm's BD3LM): prompts left-padded to a whole number of blocks
  ``P = ceil(max_r len_r / block_length) * block_length``, the answer of ``length`` masks after
  ``P`` (the last block may be shorter). Every answer starts at ``P``.
* :func:`prompt_then_blocks` (LLaDA2): each prompt followed by masks up to its last whole block,
  ``ceil((len_r + length) / block_length)`` blocks; a prompt's last block may hold answer masks
  too. Rows are shifted right by whole blocks so that their first answer blocks coincide; a
  row needing one block less than another denoises one extra block past its answer (its own
  tokens cannot see it, and it is cut from the answer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass(frozen=True)
class BlockCanvas:
    """The initial canvas and its block layout.

    Attributes:
        tokens: ``[B, T]`` ids: padding, prompt, then the mask id at every answer position.
        valid: ``[B, T]`` bool, False on padding.
        region_start: ``[B]`` first answer column of each row.
        length: answer tokens per row (the answer of row ``r`` is ``[region_start[r],
            region_start[r] + length)``; anything denoised after it is cut).
        block_length: columns per block.
        first_block: index of the first block holding answer positions (earlier blocks are
            prompt or padding only).
    """

    tokens: torch.Tensor
    valid: torch.Tensor
    region_start: torch.Tensor
    length: int
    block_length: int
    first_block: int

    @property
    def num_blocks(self) -> int:
        """Blocks covering the canvas (the last one may be shorter)."""
        return math.ceil(self.tokens.shape[1] / self.block_length)

    def block_bounds(self, index: int) -> tuple[int, int]:
        """``(start, end)`` columns of block ``index``."""
        start = index * self.block_length
        return start, min(start + self.block_length, self.tokens.shape[1])


def as_rows(prompts: Sequence[Sequence[int]] | torch.Tensor, device: torch.device) -> list[torch.Tensor]:
    """Prompts as 1D long tensors on ``device`` (a ``[B, L]`` tensor is ``B`` prompts of ``L``)."""
    rows = [torch.as_tensor(row, dtype=torch.long, device=device).reshape(-1) for row in prompts]
    if not rows:
        raise ValueError("no prompt given")
    if any(row.numel() == 0 for row in rows):
        raise ValueError("every prompt needs at least one token (start it with BOS)")
    return rows


def left_padded_prompts(prompts: Sequence[torch.Tensor], length: int, block_length: int, mask_id: int,
                        pad_id: int) -> BlockCanvas:
    """BD3LM's layout (see the module doc); padding holds ``pad_id``."""
    lengths = [int(row.numel()) for row in prompts]
    width = math.ceil(max(lengths) / block_length) * block_length  # P
    device = prompts[0].device
    tokens = torch.full((len(prompts), width + length), mask_id, dtype=torch.long, device=device)
    tokens[:, :width] = pad_id
    valid = torch.ones(tokens.shape, dtype=torch.bool, device=device)
    for row, (prompt, size) in enumerate(zip(prompts, lengths)):
        tokens[row, width - size:width] = prompt
        valid[row, :width - size] = False
    region_start = torch.full((len(prompts),), width, dtype=torch.long, device=device)
    return BlockCanvas(tokens, valid, region_start, length, block_length, width // block_length)


def prompt_then_blocks(prompts: Sequence[torch.Tensor], length: int, block_length: int, mask_id: int,
                       pad_id: int) -> BlockCanvas:
    """LLaDA2's layout (see the module doc); padding holds ``pad_id``."""
    lengths = [int(row.numel()) for row in prompts]
    full_blocks = [size // block_length for size in lengths]  # blocks each prompt fills alone
    first = max(full_blocks)
    shifts = [(first - blocks) * block_length for blocks in full_blocks]
    ends = [shift + math.ceil((size + length) / block_length) * block_length for shift, size in zip(shifts, lengths)]
    device = prompts[0].device
    tokens = torch.full((len(prompts), max(ends)), mask_id, dtype=torch.long, device=device)
    valid = torch.ones(tokens.shape, dtype=torch.bool, device=device)
    for row, (prompt, size, shift) in enumerate(zip(prompts, lengths, shifts)):
        tokens[row, :shift] = pad_id
        valid[row, :shift] = False
        tokens[row, shift:shift + size] = prompt
    region_start = torch.tensor([shift + size for shift, size in zip(shifts, lengths)], device=device)
    return BlockCanvas(tokens, valid, region_start, length, block_length, first)
