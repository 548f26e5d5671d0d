"""Noise kernels q(x_t | x_0): how a clean token is corrupted at noise level alpha = alpha(t).

Both kernels keep a token with probability alpha and otherwise replace it, sharing every
:class:`~dllm_core.schedules.base.NoiseSchedule` for alpha(t):

* **absorbing** (masked diffusion; MDLM arXiv 2406.07524 eq. 3): the replacement is the mask
  token ``m``::

      q(x_t | x_0) = alpha * 1[x_t = x_0] + (1 - alpha) * 1[x_t = m]

* **uniform** (uniform-state diffusion, D3PM arXiv 2107.03006 section 3.1; DiffusionGemma's
  canvas): the replacement is uniform over the ``V`` tokens, so a replaced position may draw its
  own token back::

      q(x_t | x_0) = alpha * 1[x_t = x_0] + (1 - alpha) / V

:meth:`NoiseKernel.corrupt` draws x_t and says which positions were replaced;
:meth:`NoiseKernel.marginal` gives the distribution above (the conformance tests compare draws
with it, ``tests/core/test_noise_kernels.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Corruption:
    """A corrupted batch: ``tokens`` x_t ``[B, L]`` and ``replaced`` ``[B, L]`` bool (the
    positions drawn from the replacement distribution; x_t may still equal x_0 there)."""

    tokens: torch.Tensor
    replaced: torch.Tensor


class NoiseKernel(ABC):
    """Corrupt clean tokens at a noise level alpha (see the module doc)."""

    @abstractmethod
    def replacement(self, shape: torch.Size, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
        """``shape`` replacement tokens."""

    @abstractmethod
    def replacement_probs(self, vocab_size: int) -> torch.Tensor:
        """``[V]`` the distribution replacements are drawn from."""

    def corrupt(self, x0: torch.Tensor, alpha: torch.Tensor, *, generator: torch.Generator | None = None,
                protected: torch.Tensor | None = None) -> Corruption:
        """Replace each position of ``x0`` ``[B, L]`` with probability ``1 - alpha``.

        Args:
            alpha: keep probabilities broadcastable to ``[B, L]`` (e.g. ``[B, 1]`` per row).
            protected: ``[B, L]`` bool, positions never replaced (a prompt).
        """
        keep_probability = torch.as_tensor(alpha, dtype=torch.float32, device=x0.device).expand(x0.shape)
        draw = torch.rand(x0.shape, device=x0.device, generator=generator)  # [B, L]
        replaced = draw >= keep_probability
        if protected is not None:
            replaced &= ~protected
        noise = self.replacement(x0.shape, x0.device, generator)
        return Corruption(torch.where(replaced, noise, x0), replaced)

    def marginal(self, x0: torch.Tensor, alpha: torch.Tensor, vocab_size: int) -> torch.Tensor:
        """``[B, L, V]`` q(x_t | x_0) for ``x0`` ``[B, L]`` and ``alpha`` broadcastable to ``[B, L]``."""
        alpha = torch.as_tensor(alpha, dtype=torch.float32, device=x0.device).expand(x0.shape)[..., None]
        clean = torch.nn.functional.one_hot(x0, vocab_size).to(torch.float32)
        return alpha * clean + (1 - alpha) * self.replacement_probs(vocab_size).to(x0.device)


@dataclass(frozen=True)
class AbsorbingKernel(NoiseKernel):
    """Replacements are the mask token ``mask_id``."""

    mask_id: int

    def replacement(self, shape: torch.Size, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
        return torch.full(shape, self.mask_id, dtype=torch.long, device=device)

    def replacement_probs(self, vocab_size: int) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.tensor(self.mask_id), vocab_size).to(torch.float32)


@dataclass(frozen=True)
class UniformKernel(NoiseKernel):
    """Replacements are uniform over ``vocab_size`` tokens."""

    vocab_size: int

    def __post_init__(self) -> None:
        if self.vocab_size < 2:
            raise ValueError(f"a uniform kernel needs a vocabulary of at least 2 tokens, got {self.vocab_size}")

    def replacement(self, shape: torch.Size, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
        return torch.randint(0, self.vocab_size, shape, device=device, generator=generator)

    def replacement_probs(self, vocab_size: int) -> torch.Tensor:
        if vocab_size != self.vocab_size:
            raise ValueError(f"this uniform kernel is over {self.vocab_size} tokens, asked for {vocab_size}")
        return torch.full((vocab_size,), 1.0 / vocab_size)


__all__ = ["AbsorbingKernel", "Corruption", "NoiseKernel", "UniformKernel"]
