"""Engine parts that LLaDA2's block sampler adds to those of the engine (same interfaces).

* :class:`BlockLengthSplit` (transfer schedule): ``S`` steps per block committing
  ``block_length // S`` tokens each, one more in the first ``block_length % S`` steps, counted
  from the block length whatever the block's number of masks (a block that starts with prompt
  tokens, or runs out of masks, simply ends early).
* :class:`ThresholdElseTopKCommit` (commit rule): when at least ``count`` candidates have a
  confidence strictly above ``threshold``, all of them; otherwise the ``count`` most confident.
* :class:`SoftmaxSampleChooser` (token choice): greedy ``argmax softmax(logits)`` at temperature
  0; otherwise ``logits / T`` filtered by top-k then top-p (filtered entries get probability 0)
  and one ``torch.multinomial`` draw per position over the ``[B * W, V]`` rows of the logits it
  is given (LLaDA2 draws over its whole block, which is what the block loop passes; a draw
  frame is not used); the confidences read the distribution the token was drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from dllm_core.generation.commit import CommitRule, descending_ranks
from dllm_core.generation.draws import DrawFrame
from dllm_core.generation.tokens import TokenChoice, TokenChooser, top_k_filter, top_p_filter
from dllm_core.generation.transfer import BlockPlan, CountTable, TransferSchedule, linear_split


@dataclass(frozen=True)
class BlockLengthSplit(TransferSchedule):
    """``block_length`` split evenly over ``steps`` steps, the remainder to the first ones."""

    steps: int
    block_length: int

    def plan(self, masked: torch.Tensor) -> BlockPlan:
        return CountTable(linear_split(torch.full_like(masked, self.block_length), self.steps))


@dataclass(frozen=True)
class ThresholdElseTopKCommit(CommitRule):
    """Every candidate with ``confidence > threshold`` if there are at least ``count`` of them,
    else the ``count`` most confident candidates (LLaDA2 ``generate``)."""

    threshold: float

    def select(self, confidence, candidates, quota, generator, frame=None):
        if quota.count is None:
            raise ValueError("the threshold-else-top-k rule needs a per-step count; pair it with a counting "
                             "transfer schedule (BlockLengthSplit, LinearSplit, ...)")
        count = quota.count[:, None]  # [B, 1]
        confident = candidates & (confidence > self.threshold)  # [B, W]
        enough = confident.sum(dim=1, keepdim=True) >= count  # [B, 1]
        best = candidates & (descending_ranks(confidence) < count)
        return torch.where(enough, confident, best)


@dataclass(frozen=True)
class SoftmaxSampleChooser(TokenChooser):
    """LLaDA2's ``_sample_with_temperature_topk_topp`` (see the module doc).

    Attributes:
        temperature: 0 for greedy (no filtering then), otherwise the softmax temperature.
        top_k: keep the ``top_k`` largest logits (``None`` or <= 0: all).
        top_p: nucleus filter applied after top-k (``None`` or >= 1: off).
    """

    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None

    def choose(self, logits: torch.Tensor, generator: torch.Generator | None, banned: Sequence[int] = (),
               frame: DrawFrame | None = None) -> TokenChoice:
        if self.temperature > 0:
            logits = logits / self.temperature
            if self.top_k is not None and self.top_k > 0:
                logits = top_k_filter(logits, self.top_k)
            if self.top_p is not None and self.top_p < 1:
                logits = top_p_filter(logits, self.top_p)
        probs = torch.softmax(logits, dim=-1)  # [B, W, V]
        drawable = probs
        if banned:  # the smallest float keeps a row drawable when all its mass is banned
            ids = torch.tensor(list(banned), device=probs.device)
            drawable = (probs + torch.finfo(probs.dtype).tiny).index_fill(-1, ids, 0.0)
        if self.temperature > 0:
            flat = drawable.reshape(-1, probs.shape[-1])  # [B * W, V]
            tokens = torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])
        else:
            tokens = drawable.argmax(dim=-1)
        return TokenChoice(tokens, probs)
