"""Confidence scores: how sure the model is at each position, higher = commit sooner.

Each score maps a :class:`~dllm_core.generation.tokens.TokenChoice` (tokens ``[B, W]``,
probabilities ``p [B, W, V]``) to ``[B, W]``:

* :class:`ProbabilityConfidence`: ``p[token]`` (LLaDA ``low_confidence``, Dream ``maskgit_plus``);
* :class:`MarginConfidence`: ``p_(1) - p_(2)``, top-1 minus top-2 probability (Dream ``topk_margin``);
* :class:`NegEntropyConfidence`: ``sum_v p_v log(p_v + 1e-10)`` (Dream ``entropy``);
* :class:`RandomConfidence`: ``U(0, 1)`` draws (LLaDA ``random`` remasking), over the step's
  :class:`~dllm_core.generation.draws.DrawFrame` when given (``torch.rand((B, n))``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from dllm_core.generation.draws import DrawFrame
from dllm_core.generation.tokens import TokenChoice


class ConfidenceScore(ABC):
    """Scores every position of a :class:`TokenChoice`."""

    @abstractmethod
    def score(self, choice: TokenChoice, generator: torch.Generator | None,
              frame: DrawFrame | None = None) -> torch.Tensor:
        """``[B, W]`` confidences; random draws use ``generator`` laid out as ``frame`` says."""


@dataclass(frozen=True)
class ProbabilityConfidence(ConfidenceScore):
    """Probability of the chosen token."""

    def score(self, choice, generator, frame=None):
        return choice.probs.gather(-1, choice.tokens.unsqueeze(-1)).squeeze(-1)


@dataclass(frozen=True)
class MarginConfidence(ConfidenceScore):
    """Top-1 minus top-2 probability."""

    def score(self, choice, generator, frame=None):
        top2 = choice.probs.topk(2, dim=-1).values  # [B, W, 2]
        return top2[..., 0] - top2[..., 1]


@dataclass(frozen=True)
class NegEntropyConfidence(ConfidenceScore):
    """Negative entropy of the distribution, ``sum p log(p + eps)``."""

    eps: float = 1e-10

    def score(self, choice, generator, frame=None):
        probs = choice.probs
        return (probs * torch.log(probs + self.eps)).sum(dim=-1)


@dataclass(frozen=True)
class RandomConfidence(ConfidenceScore):
    """Uniform random scores: positions are committed in random order."""

    def score(self, choice, generator, frame=None):
        tokens = choice.tokens  # [B, W]
        if frame is None:
            return torch.rand(tokens.shape, device=tokens.device, generator=generator)
        return frame.cut(torch.rand((tokens.shape[0], frame.width), device=tokens.device, generator=generator))
