"""Token choice: which token each position would take, and the distribution confidences read.

A chooser maps logits ``[B, W, V]`` of the positions a step looks at to a :class:`TokenChoice`:
the candidate token per position and the probabilities ``[B, W, V]`` that the confidence
scores (:mod:`~dllm_core.generation.confidence`) are computed from. ``banned`` ids (the loop
passes the mask id) are never chosen but stay in those probabilities, so a model that rates the
mask token highest gets its runner-up committed, and confidences match the references'.

* :class:`GumbelChooser` (LLaDA, Fast-dLLM, dllm's MDLM): greedy at temperature 0, otherwise
  Gumbel-max sampling in float64, ``argmax(logits - T * log(-log U))`` with ``U ~ U(0, 1)`` (the
  log of the references' ``exp(logits) / (-log U)^T``); confidences read the plain softmax of
  the logits, in float32 (LLaDA) or float64 (Fast-dLLM).
* :class:`CategoricalChooser` (Dream): logits divided by the temperature, filtered by top-p then
  top-k, softmax in the logits' dtype; greedy at temperature 0, otherwise one categorical draw;
  confidences read that filtered distribution.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass(frozen=True)
class TokenChoice:
    """``tokens [B, W]`` chosen per position and ``probs [B, W, V]`` for the confidence scores."""

    tokens: torch.Tensor
    probs: torch.Tensor


class TokenChooser(ABC):
    """Turns logits ``[B, W, V]`` into a :class:`TokenChoice`."""

    @abstractmethod
    def choose(
        self, logits: torch.Tensor, generator: torch.Generator | None, banned: Sequence[int] = ()
    ) -> TokenChoice:
        """Pick tokens other than ``banned``; random draws use ``generator`` (``None``: torch's
        global generator)."""


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens whose probability reaches
    ``top_p`` (the first token always stays); the rest get the dtype's lowest value."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    drop_sorted = cumulative > top_p
    drop_sorted[..., 1:] = drop_sorted[..., :-1].clone()  # keep the token that crosses top_p
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter_(-1, order, drop_sorted)
    return logits.masked_fill(drop, torch.finfo(logits.dtype).min)


def top_k_filter(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep the ``top_k`` largest logits (and ties with the k-th); the rest get the lowest value."""
    kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, torch.finfo(logits.dtype).min)


def filtered(logits: torch.Tensor, top_p: float | None, top_k: int | None) -> torch.Tensor:
    """Apply top-p (when ``0 < top_p < 1``) then top-k (when given), in that order (Dream's)."""
    if top_p is not None and top_p < 1:
        logits = top_p_filter(logits, top_p)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    return logits


@dataclass(frozen=True)
class GumbelChooser(TokenChooser):
    """LLaDA's token choice (see module doc).

    Attributes:
        temperature: 0 for greedy; otherwise the Gumbel-max temperature.
        top_k, top_p: optional filters applied to the logits first.
        prob_dtype: dtype of the softmax the confidences read (float32 LLaDA/MDLM, float64
            Fast-dLLM).
        confidence_suppress_tokens: ids whose logits are set to -inf for the confidence softmax
            only, after the token choice (LLaDA's ``confidence_eos_eot_inf``, MDLM's
            ``begin_suppress_tokens``): a position predicting one of them gets confidence 0.
    """

    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    prob_dtype: torch.dtype = torch.float32
    confidence_suppress_tokens: tuple[int, ...] = ()

    def choose(
        self, logits: torch.Tensor, generator: torch.Generator | None, banned: Sequence[int] = ()
    ) -> TokenChoice:
        logits = filtered(logits, self.top_p, self.top_k)  # [B, W, V]
        scores = logits
        if self.temperature > 0:
            uniform = torch.rand(logits.shape, dtype=torch.float64, device=logits.device,
                                 generator=generator)
            gumbel = -torch.log(-torch.log(uniform))  # float64
            scores = logits.double() + self.temperature * gumbel
        tokens = _without(scores, banned, -torch.inf).argmax(dim=-1)
        scored = logits.to(self.prob_dtype)
        if self.confidence_suppress_tokens:
            scored = scored.clone()
            scored[..., list(self.confidence_suppress_tokens)] = -torch.inf
        return TokenChoice(tokens, torch.softmax(scored, dim=-1))


@dataclass(frozen=True)
class CategoricalChooser(TokenChooser):
    """Dream's ``sample_tokens`` (see module doc)."""

    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None

    def choose(
        self, logits: torch.Tensor, generator: torch.Generator | None, banned: Sequence[int] = ()
    ) -> TokenChoice:
        if self.temperature > 0:
            logits = logits / self.temperature
        probs = torch.softmax(filtered(logits, self.top_p, self.top_k), dim=-1)  # [B, W, V]
        # the smallest positive float keeps every allowed token drawable when all mass is banned
        allowed = _without(probs + torch.finfo(probs.dtype).tiny, banned, 0.0)
        if self.temperature > 0:
            flat = allowed.reshape(-1, probs.shape[-1])
            tokens = torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])
        else:
            tokens = allowed.argmax(dim=-1)
        return TokenChoice(tokens, probs)


def _without(scores: torch.Tensor, banned: Sequence[int], value: float) -> torch.Tensor:
    """``scores`` with the ``banned`` vocabulary entries set to ``value``."""
    if not banned:
        return scores
    return scores.index_fill(-1, torch.tensor(list(banned), device=scores.device), value)
