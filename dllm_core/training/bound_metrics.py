"""Averaging the objectives' ``nll_bound`` over an evaluation set.

Each batch reports ``nll_bound`` (a per-token mean) and ``num_tokens`` (how many tokens it
averages over). The set-level bound is the token-weighted mean, summed over processes:

    nll_bound = sum_batches nll_bound_b * n_b / sum_batches n_b,    ppl_bound = exp(nll_bound).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch


class NllBoundAccumulator:
    """Collects (nll_bound * num_tokens, num_tokens) on the device, reduced once at the end."""

    def __init__(self) -> None:
        self._totals: torch.Tensor | None = None  # [2] float64: weighted sum, tokens

    def add(self, metrics: Mapping[str, Any]) -> None:
        """Add one batch's metrics; batches without ``nll_bound`` are ignored."""
        if "nll_bound" not in metrics:
            return
        nll = torch.as_tensor(metrics["nll_bound"]).detach().double()
        tokens = torch.as_tensor(metrics.get("num_tokens", 1), device=nll.device).double()
        pair = torch.stack([nll * tokens, tokens])  # [2]
        self._totals = pair if self._totals is None else self._totals + pair.to(self._totals.device)

    def summary(self, accelerator: Any, prefix: str) -> dict[str, float]:
        """``{prefix}_nll_bound`` and ``{prefix}_ppl_bound`` over all processes (empty if none)."""
        if self._totals is None:
            return {}
        totals = accelerator.gather(self._totals[None]).sum(dim=0)  # [2]
        if totals[1] <= 0:
            return {}
        nll = (totals[0] / totals[1]).item()
        return {f"{prefix}_nll_bound": nll, f"{prefix}_ppl_bound": math.exp(nll)}
