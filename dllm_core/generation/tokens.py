"""Token choice: which token each position would take, and the distribution confidences read.

A chooser maps logits ``[B, W, V]`` of the positions a step looks at to a :class:`TokenChoice`:
the candidate token per position and the probabilities ``[B, W, V]`` that the confidence
scores (:mod:`~dllm_core.generation.confidence`) are computed from. ``banned`` ids (the loop
passes the mask id when a preset suppresses it) are never chosen but stay in those
probabilities, so a model that rates the mask token highest gets its runner-up committed, and
confidences match the references'. Random draws follow the step's
:class:`~dllm_core.generation.draws.DrawFrame` when one is given (see there).

* :class:`GumbelChooser` (LLaDA, Fast-dLLM, dllm's MDLM): greedy at temperature 0, otherwise
  Gumbel-max sampling in float64, ``argmax(logits - T * log(-log U))`` with ``U ~ U(0, 1)`` (the
  log of the references' ``exp(logits) / (-log U)^T``); ``U`` is drawn over the frame's
  ``[B, n, V]``, as ``torch.rand_like`` over the references' logits; confidences read the plain
  softmax of the logits, in float32 (LLaDA) or float64 (Fast-dLLM).
* :class:`CategoricalChooser` (Dream): logits divided by the temperature, filtered by top-p then
  top-k, softmax in the logits' dtype; greedy at temperature 0, otherwise one categorical draw
  per candidate position, row-major (``torch.distributions.Categorical`` over the masked rows,
  as Dream's ``sample_tokens``); confidences read that filtered distribution.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import torch

from dllm_core.generation.draws import DrawFrame


@dataclass(frozen=True)
class TokenChoice:
    """``tokens [B, W]`` chosen per position and ``probs [B, W, V]`` for the confidence scores."""

    tokens: torch.Tensor
    probs: torch.Tensor


class TokenChooser(ABC):
    """Turns logits ``[B, W, V]`` into a :class:`TokenChoice`."""

    @abstractmethod
    def choose(
        self,
        logits: torch.Tensor,
        generator: torch.Generator | None,
        banned: Sequence[int] = (),
        frame: DrawFrame | None = None,
    ) -> TokenChoice:
        """Pick tokens other than ``banned``; random draws use ``generator`` (``None``: torch's
        global generator) and are laid out as ``frame`` says (``None``: over the window)."""


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

    def choose(self, logits, generator, banned=(), frame=None):
        logits = filtered(logits, self.top_p, self.top_k)  # [B, W, V]
        scores = logits
        if self.temperature > 0:
            uniform = _gumbel_uniforms(logits, generator, frame)  # [B, W, V] float64
            gumbel = -torch.log(-torch.log(uniform))
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

    def choose(self, logits, generator, banned=(), frame=None):
        if self.temperature > 0:
            logits = logits / self.temperature
        probs = torch.softmax(filtered(logits, self.top_p, self.top_k), dim=-1)  # [B, W, V]
        allowed = probs
        if banned:
            # the smallest positive float keeps every allowed token drawable when all mass is banned
            allowed = _without(probs + torch.finfo(probs.dtype).tiny, banned, 0.0)
        tokens = allowed.argmax(dim=-1)  # [B, W]
        if self.temperature > 0:
            drawn = torch.ones_like(tokens, dtype=torch.bool) if frame is None else frame.candidates
            rows = allowed[drawn]  # [n, V], row-major
            # Categorical(probs).sample(): one multinomial draw per row of the normalised probs
            sample = torch.multinomial(rows / rows.sum(dim=-1, keepdim=True), 1, True, generator=generator)
            tokens = tokens.masked_scatter(drawn, sample.squeeze(-1))
        return TokenChoice(tokens, probs)


def _gumbel_uniforms(logits: torch.Tensor, generator: torch.Generator | None,
                     frame: DrawFrame | None) -> torch.Tensor:
    """``U(0, 1)`` float64 draws ``[B, W, V]`` for the window of ``logits``: drawn over the frame's
    ``[B, n, V]`` (``frame.token_draws`` times, the last kept) and cut, or over the window."""
    batch, _, vocab = logits.shape
    shape = logits.shape if frame is None else (batch, frame.width, vocab)
    draws = 1 if frame is None else frame.token_draws
    for _ in range(draws):
        uniform = torch.rand(shape, dtype=torch.float64, device=logits.device, generator=generator)
    return uniform if frame is None else frame.cut(uniform)


def _without(scores: torch.Tensor, banned: Sequence[int], value: float) -> torch.Tensor:
    """``scores`` with the ``banned`` vocabulary entries set to ``value``."""
    if not banned:
        return scores
    return scores.index_fill(-1, torch.tensor(list(banned), device=scores.device), value)
