"""The key/value cache of the prefix and dual cache policies (Fast-dLLM, arXiv 2505.22618).

A family model calls ``cache.update(key_states, value_states, layer_idx)`` in every layer with
the keys/values of its query tokens (``[B, H_kv, q, D]``, after the rotary embedding) and
attends over what the call returns. :class:`DiffusionCache` answers in one of three modes,
which the generation loop sets before each forward call:

* ``record()``: the block-start forward over the whole canvas. Every layer's keys/values
  (``[B, H_kv, L, D]``) are stored and returned unchanged.
* ``prefix(n)``: the query tokens are the canvas from position ``n`` on. Returns the stored
  keys/values of positions ``[0, n)`` followed by the new ones; nothing is stored.
* ``dual(start, end)``: the query tokens are positions ``[start, end)``. Their keys/values
  overwrite those positions of the stored ones in place, and the whole stored canvas
  ``[B, H_kv, L, D]`` is returned: positions after the block keep the (stale) values of the
  block-start forward.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

CacheMode = Literal["none", "prefix", "dual"]


class DiffusionCache:
    """A transformers ``Cache``-style object holding one canvas' keys/values per layer."""

    def __init__(self) -> None:
        self.keys: dict[int, torch.Tensor] = {}  # layer -> [B, H_kv, L, D]
        self.values: dict[int, torch.Tensor] = {}
        self.mode: Literal["record", "prefix", "dual"] = "record"
        self.start = 0
        self.end = 0

    def record(self) -> None:
        """Forget everything; the next forward stores every layer's keys/values."""
        self.keys.clear()
        self.values.clear()
        self.mode = "record"

    def prefix(self, length: int) -> None:
        """The next forward's queries start at ``length``; reuse the stored ``[0, length)``."""
        self.mode, self.start, self.end = "prefix", length, length

    def dual(self, start: int, end: int) -> None:
        """The next forward's queries are ``[start, end)``; overwrite them, reuse the rest."""
        self.mode, self.start, self.end = "dual", start, end

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        cache_kwargs: dict[str, Any] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys/values ``[B, H_kv, Lk, D]`` layer ``layer_idx`` attends over (see module doc)."""
        if self.mode == "record":
            self.keys[layer_idx], self.values[layer_idx] = key_states, value_states
            return key_states, value_states
        keys, values = self.keys[layer_idx], self.values[layer_idx]
        if self.mode == "prefix":
            return (torch.cat([keys[:, :, : self.start], key_states], dim=2),
                    torch.cat([values[:, :, : self.start], value_states], dim=2))
        keys[:, :, self.start : self.end] = key_states
        values[:, :, self.start : self.end] = value_states
        return keys, values

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Number of positions stored for ``layer_idx`` (0 before the first record)."""
        return self.keys[layer_idx].shape[2] if layer_idx in self.keys else 0
