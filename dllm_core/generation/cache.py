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
* ``dual(start, end, positions)`` (static shapes): the same keys/values, but nothing is
  written: each layer returns a copy of the stored ones with ``positions`` (``[q]`` long, the
  canvas positions of the queries) replaced, ``index_copy`` over a tensor of fixed shape, so a
  compiled step neither mutates its inputs (which CUDA graphs refuse) nor specialises on
  ``start``. It gives the same keys/values as writing them when every step of a block has the
  same queries: the written positions are always overwritten by the next step before anyone
  reads them.

Block diffusion (:mod:`~dllm_core.generation.block`) needs no approximation: under its
block-causal attention a finished block never sees later tokens, so its keys/values are final
once it is complete. :class:`BlockKVCache` stores them once, in order, and lets every step of
the next block attend over them.
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
        self.positions: torch.Tensor | None = None  # [q] long: dual queries, not written back

    def record(self) -> None:
        """Forget everything; the next forward stores every layer's keys/values."""
        self.keys.clear()
        self.values.clear()
        self.mode = "record"

    def prefix(self, length: int) -> None:
        """The next forward's queries start at ``length``; reuse the stored ``[0, length)``."""
        self.mode, self.start, self.end = "prefix", length, length

    def dual(self, start: int, end: int, positions: torch.Tensor | None = None) -> None:
        """The next forward's queries are ``[start, end)``; overwrite them, reuse the rest. With
        ``positions`` (``arange(start, end)``) return a copy with them replaced instead."""
        self.mode, self.start, self.end, self.positions = "dual", start, end, positions

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
        if self.positions is not None:
            return keys.index_copy(2, self.positions, key_states), values.index_copy(2, self.positions, value_states)
        keys[:, :, self.start : self.end] = key_states
        values[:, :, self.start : self.end] = value_states
        return keys, values

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Number of positions stored for ``layer_idx`` (0 before the first record)."""
        return self.keys[layer_idx].shape[2] if layer_idx in self.keys else 0


class BlockKVCache:
    """An exact, append-only key/value cache of a canvas' finished prefix (block diffusion).

    It holds the keys/values of canvas positions ``[0, length)`` per layer, in buffers of
    ``[B, H_kv, capacity, D]`` allocated on the first call. Before each forward the loop calls
    :meth:`keep` with the number of leading query tokens whose keys/values are final; the
    forward's query tokens are the positions right after the stored ones. Each layer's
    ``update`` writes the new keys/values ``[B, H_kv, q, D]`` after the stored ones and returns
    the stored and new ones together, ``[B, H_kv, length + q, D]`` (a view, nothing is copied);
    after the forward :meth:`commit` appends the kept ones, so the rest (the block being
    denoised, whose tokens still change) is overwritten by the next call.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.keys: dict[int, torch.Tensor] = {}  # layer -> [B, H_kv, capacity, D]
        self.values: dict[int, torch.Tensor] = {}
        self.length = 0
        self.kept = 0

    def keep(self, count: int) -> None:
        """The next forward's first ``count`` query tokens are final: :meth:`commit` stores them."""
        self.kept = count

    def commit(self) -> None:
        """Append the kept keys/values of the last forward to the stored prefix."""
        self.length += self.kept
        self.kept = 0

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        cache_kwargs: dict[str, Any] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys/values ``[B, H_kv, length + q, D]``: the stored prefix, then the new ones."""
        end = self.length + key_states.shape[2]
        if end > self.capacity:
            raise ValueError(f"the cache holds {self.capacity} positions; a forward would reach {end}")
        if layer_idx not in self.keys:
            batch, heads, _, dim = key_states.shape
            self.keys[layer_idx] = key_states.new_empty((batch, heads, self.capacity, dim))
            self.values[layer_idx] = value_states.new_empty((batch, heads, self.capacity, value_states.shape[3]))
        keys, values = self.keys[layer_idx], self.values[layer_idx]
        keys[:, :, self.length:end] = key_states
        values[:, :, self.length:end] = value_states
        return keys[:, :, :end], values[:, :, :end]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Number of stored (final) positions."""
        return self.length
