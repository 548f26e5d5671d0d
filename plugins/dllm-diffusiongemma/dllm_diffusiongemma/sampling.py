"""The parts of DiffusionGemma's denoising loop, one job each (torch only).

Notation: ``B`` rows, a canvas of ``C`` positions, vocabulary ``V``, ``N`` denoising steps
counted down ``k = N, ..., 1`` (``k`` is the number of steps *remaining*, as in transformers).

* canvas initialiser: ``x_T ~ U(V)^C`` (the uniform-state kernel at ``alpha = 0``);
* temperature schedule: ``tau_k = t_min + (t_max - t_min) * k / N`` (hot first, cool last);
* acceptance rule (entropy bound, arXiv 2505.24857): sort positions by the entropy ``H_i`` of
  the tempered distribution, ascending, and accept the longest prefix with
  ``sum_{j<=i} H_j - H_i <= gamma`` (the first position is always accepted);
* re-noise rule: every position not accepted gets a fresh uniform token;
* adaptive stopping (stable and confident): a row stops when its argmax canvas equals each of
  the last ``s`` argmax canvases and the mean entropy of its tempered distribution is below ``c``.

Random draws follow transformers' order on one ``torch.Generator``: the initial canvas, then per
step one ``multinomial`` over all ``B * C`` positions and one uniform canvas for re-noising.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


def uniform_canvas(batch: int, length: int, vocab_size: int, device: torch.device,
                   generator: torch.Generator | None) -> torch.Tensor:
    """``[B, C]`` tokens drawn uniformly from the vocabulary."""
    return torch.randint(0, vocab_size, (batch, length), device=device, generator=generator)


def linear_temperature(logits: torch.Tensor, step: int, steps: int, t_min: float, t_max: float) -> torch.Tensor:
    """``logits / tau_k`` with ``tau_k`` computed in float32 from an int32 step, as the library does."""
    remaining = torch.tensor(step, dtype=torch.int32, device=logits.device)
    return logits / (t_min + (t_max - t_min) * (remaining / steps))


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """``[B, C]`` entropies of the categorical distributions with ``[B, C, V]`` logits."""
    return torch.distributions.Categorical(logits=logits).entropy()


def entropy_bound_accept(logits: torch.Tensor, bound: float) -> torch.Tensor:
    """``[B, C]`` bool: the positions the entropy-bound rule accepts (see the module doc)."""
    entropy = token_entropy(logits)  # [B, C]
    ordered, order = torch.sort(entropy, dim=-1, descending=False)
    keep_sorted = torch.cumsum(ordered, dim=-1) - ordered <= bound  # [B, C] in entropy order
    return torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)


def sample_tokens(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``[B, C]`` tokens drawn from ``softmax(logits)`` (float32), one multinomial over all rows."""
    batch, length, vocab = logits.shape
    probs = torch.softmax(logits, dim=-1, dtype=torch.float32)
    return torch.multinomial(probs.view(-1, vocab), num_samples=1, generator=generator).view(batch, length)


@dataclass
class StableAndConfident:
    """The adaptive stopping rule (see the module doc); holds the last ``stability`` argmax canvases."""

    stability: int
    confidence: float
    history: list[torch.Tensor] = field(default_factory=list)

    def reset(self) -> None:
        self.history = []

    def __call__(self, argmax: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """``[B]`` bool: rows whose ``[B, C]`` argmax canvas is stable and ``[B, C, V]`` logits confident."""
        if self.stability == 0:
            stable = torch.ones(argmax.shape[0], dtype=torch.bool, device=argmax.device)
        else:
            full = len(self.history) == self.stability
            stable = torch.full((argmax.shape[0],), full, dtype=torch.bool, device=argmax.device)
            for past in self.history:
                stable &= (past == argmax).all(dim=-1)
            self.history = [*self.history, argmax.clone()][-self.stability:]
        confident = token_entropy(logits).mean(dim=-1) < self.confidence
        return stable & confident
