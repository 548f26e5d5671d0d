"""The model calls of block diffusion: block-causal masks, positions, the exact cache, NFE.

Attention is block-causal on the canvas grid (:mod:`~dllm_core.generation.block_canvas`): query
column ``i`` may attend to key column ``j`` when ``j // block_length <= i // block_length`` and
``j`` is not padding (and always to itself, so that padded queries stay finite). Positions count
the non-padding columns: ``position[j] = #{valid columns < j}``.

The runner keeps a boundary ``final``: columns ``[0, final)`` are finished, their tokens never
change again. Each call names the columns it needs, ``[0, end)``, and where the finished part
ends afterwards:

* with the cache (the model's family takes ``past_key_values``), the query tokens are only
  ``[final, end)``; their keys/values are computed over the cached ``[0, final)``, and those of
  the newly finished columns are appended to the cache once. Under a block-causal mask a
  finished column's keys/values do not depend on anything after its block, so this is exact:
  the logits equal those of a full forward up to float rounding;
* without it every call recomputes ``[0, end)`` (what the references do).

Both make the same calls, so NFE does not depend on the cache.

With ``shift`` (models whose position ``p`` is predicted by the output at ``p - 1``: dllm's
``right_shift_logits``, families with a logit shift) block position ``i`` reads the output at
``start + i - 1``; the output before the block comes from the call that last covered it (column 0
reads its own output).
"""

from __future__ import annotations

from typing import Any

import torch

from dllm_core.generation.cache import BlockKVCache
from dllm_core.generation.capabilities import ModelCapabilities


def block_causal_mask(valid: torch.Tensor, query_start: int, block_length: int) -> torch.Tensor | None:
    """``[B, 1, q, Lk]`` bool, True = may attend, for queries ``[query_start, Lk)`` over keys
    ``[0, Lk)``; ``valid [B, Lk]`` is False on padding keys. ``None`` (attend everywhere, the
    fast kernels) when the queries lie in one block and no key is padding."""
    length = valid.shape[1]
    if query_start // block_length == (length - 1) // block_length and bool(valid.all()):
        return None
    block = torch.arange(length, device=valid.device) // block_length  # [Lk]
    allowed = block[None, :] <= block[query_start:, None]  # [q, Lk]
    allowed = allowed[None] & valid[:, None, :]  # [B, q, Lk]
    diagonal = torch.arange(length - query_start, device=valid.device)
    allowed[:, diagonal, diagonal + query_start] = True
    return allowed[:, None]


def positions_of(valid: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` rotary positions: valid columns numbered from 0, padding 0."""
    return (valid.long().cumsum(dim=1) - 1).clamp(min=0).masked_fill(~valid, 0)


class BlockRunner:
    """Calls ``model`` for one block-diffusion run and counts the calls (``nfe``)."""

    def __init__(self, model: Any, canvas_length: int, block_length: int, capabilities: ModelCapabilities,
                 *, use_cache: bool = True, slice_logits: bool = True, shift: bool = False):
        self.model = model
        self.block_length = block_length
        self.cache = BlockKVCache(canvas_length) if use_cache and capabilities.kv_cache else None
        self.logits_to_keep = slice_logits and capabilities.logits_to_keep
        self.shift = shift
        self.final = 0  # columns [0, final) are finished (and cached, with the cache)
        self.previous: torch.Tensor | None = None  # [B, 1, V] output at the column before the block
        self.nfe = 0

    @property
    def query_start(self) -> int:
        """First query column of the next call."""
        return self.final if self.cache is not None else 0

    def finish(self, tokens: torch.Tensor, valid: torch.Tensor, positions: torch.Tensor, start: int) -> None:
        """One call over ``[0, start)`` that makes it final (dllm BD3LM's per-block prefix call)."""
        self.previous = self._forward(tokens, valid, positions, start, start, (start - 1, start))

    def block_logits(self, tokens: torch.Tensor, valid: torch.Tensor, positions: torch.Tensor,
                     block: tuple[int, int]) -> torch.Tensor:
        """Logits ``[B, end - start, V]`` of block ``(start, end)``, from one call over ``[0, end)``;
        the columns before the block are final afterwards (LLaDA2 finishes them in this call)."""
        start, end = block
        if not self.shift:
            return self._forward(tokens, valid, positions, end, start, (start, end))
        first = max(start - 1, self.query_start)
        out = self._forward(tokens, valid, positions, end, start, (first, end))  # columns [first, end)
        if first < start:
            self.previous, out = out[:, :1], out[:, 1:]
        before = out[:, :1] if start == 0 else self.previous
        return torch.cat([before, out[:, :-1]], dim=1)

    def _forward(self, tokens: torch.Tensor, valid: torch.Tensor, positions: torch.Tensor, end: int,
                 finished: int, keep: tuple[int, int]) -> torch.Tensor:
        """One call over ``[0, end)``; logits ``[B, hi - lo, V]`` of columns ``keep = (lo, hi)``."""
        first = self.query_start
        lo, hi = keep[0] - first, keep[1] - first
        kwargs: dict[str, Any] = {"attention_mask": block_causal_mask(valid[:, :end], first, self.block_length),
                                  "position_ids": positions[:, first:end]}
        if self.cache is not None:
            self.cache.keep(finished - first)
            kwargs.update(past_key_values=self.cache, use_cache=True)
        if self.logits_to_keep:
            kwargs["logits_to_keep"] = slice(lo, hi)
        logits = self.model(tokens[:, first:end], **kwargs).logits
        self.nfe += 1
        if self.cache is not None:
            self.cache.commit()
        self.final = finished
        return logits if self.logits_to_keep else logits[:, lo:hi]
