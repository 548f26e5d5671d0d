"""Masked diffusion (MDLM, arXiv 2406.07524; LLaDA, arXiv 2502.09992): the ``masked-diffusion``
objective.

Per sequence b: t_b = eps + (1 - eps) U (independent, or spread over the batch:
``time_sampling``; a batch may first be cut to a random length: ``random_length_ratio``, both in
:mod:`dllm_core.objectives.elbo`); each maskable position (``labels != -100``) becomes the
mask token independently with probability 1 - alpha(t_b); the model sees x_t and the loss is the
cross-entropy of x_0 at the masked positions, weighted by w(t_b) = -alpha'(t_b)/(1 - alpha(t_b))
and normalised as described in :mod:`dllm_core.objectives.elbo`. Prompt tokens and padding
(label -100) are never masked and never scored, so SFT trains p(response | prompt).

Logit shift (Dream): with ``logit_shift`` the prediction for position i is read from the model
output at i - 1 (position 0 keeps its own), because Dream's model is an autoregressive model
adapted to diffusion; its sequences start with a BOS that is never masked.

CART (Dream): ``weighting="cart"`` weights each masked token by the unmasked real tokens around
it (prompt and BOS included, padding not), ``w_i = sum_j 0.5 p (1 - p)^(|i - j| - 1)`` with
``p = cart_p``, instead of w(t); see :mod:`dllm_core.objectives.cart`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch

from dllm_core.objectives.base import Batch, LossOutput, Objective
from dllm_core.objectives.cart import cart_weights
from dllm_core.objectives.elbo import (
    DiffusionLossConfig,
    cut_to_random_length,
    elbo_loss_output,
    masked_token_nll,
    sample_mask,
    sample_times,
)
from dllm_core.objectives.model_io import logits_of, resolve_mask_token_id, shift_logits, with_router_loss

if TYPE_CHECKING:
    from dllm_core.family import ModelFamily


@dataclass
class MaskedDiffusionConfig(DiffusionLossConfig):
    """``DiffusionLossConfig`` (schedule, eps, weighting, normalization), the logit shift, and
    Dream's CART weighting (``weighting="cart"``, geometric parameter ``cart_p``)."""

    weightings: ClassVar[tuple[str, ...]] = ("schedule", "uniform", "cart")

    logit_shift: bool | None = None  # None: the family's ``logit_shift`` (False without a family)
    cart_p: float = 0.3  # CART's geometric parameter p (Dream's value)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.cart_p <= 1:
            raise ValueError(f"cart_p must lie in (0, 1], got {self.cart_p}")


class MaskedDiffusionObjective(Objective):
    """The MDLM/LLaDA masked diffusion ELBO; see the module docstring."""

    name: ClassVar[str] = "masked-diffusion"
    config_class: ClassVar[type[MaskedDiffusionConfig]] = MaskedDiffusionConfig

    def __init__(self, config: MaskedDiffusionConfig | None = None) -> None:
        self.config = config if config is not None else MaskedDiffusionConfig()

    def uses_logit_shift(self, family: ModelFamily | None) -> bool:
        """The configured shift, else the family's, else no shift."""
        if self.config.logit_shift is not None:
            return self.config.logit_shift
        return bool(family is not None and family.logit_shift)

    def loss(
        self,
        model: torch.nn.Module,
        batch: Batch,
        family: ModelFamily | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> LossOutput:
        """Cut the batch to a random length (``random_length_ratio``), draw t and the mask, then
        score (see :meth:`loss_at`)."""
        batch = cut_to_random_length(batch, self.config.random_length_ratio, generator)
        labels = batch["labels"]  # [B, L]
        maskable = labels != -100  # [B, L]
        t = sample_times((labels.shape[0],), self.config.eps, labels.device, generator,
                         self.config.time_sampling)  # [B]
        mask_probability = 1 - self.config.schedule.alpha(t)  # [B]
        masked = sample_mask(mask_probability[:, None], maskable, generator)  # [B, L]
        return self._score(model, batch, family, t, masked)

    def loss_at(
        self,
        model: torch.nn.Module,
        batch: Batch,
        family: ModelFamily | None = None,
        *,
        t: torch.Tensor,
        masked: torch.Tensor,
    ) -> LossOutput:
        """The loss for a given time ``t [B]`` and mask ``masked [B, L]`` (bool), no randomness.

        ``masked`` may only cover maskable positions (``labels != -100``).
        """
        maskable = batch["labels"] != -100
        if bool((masked & ~maskable).any()):
            raise ValueError("masked covers positions whose label is -100 (prompt or padding)")
        if t.shape != (masked.shape[0],):
            raise ValueError(f"t must have shape [B] = [{masked.shape[0]}], got {list(t.shape)}")
        return self._score(model, batch, family, t, masked)

    def _score(
        self,
        model: torch.nn.Module,
        batch: Batch,
        family: ModelFamily | None,
        t: torch.Tensor,
        masked: torch.Tensor,
    ) -> LossOutput:
        x0 = batch["input_ids"]  # [B, L]
        maskable = batch["labels"] != -100  # [B, L]
        noisy = torch.where(masked, resolve_mask_token_id(model, batch), x0)  # [B, L]
        output = model(input_ids=noisy, attention_mask=batch.get("attention_mask"))
        logits = logits_of(output)  # [B, L, V]
        if self.uses_logit_shift(family):
            logits = shift_logits(logits)
        token_nll = masked_token_nll(logits, x0, masked)  # [B, L]
        schedule_weight = self.config.schedule.weight(t)[:, None]  # [B, 1]
        token_weight = None
        if self.config.weighting == "cart":
            attention_mask = batch.get("attention_mask")
            real = attention_mask.bool() if attention_mask is not None else torch.ones_like(masked)
            token_weight = cart_weights(masked, real, self.config.cart_p)  # [B, L]
        result = elbo_loss_output(token_nll, schedule_weight, maskable, self.config, token_weight)
        return with_router_loss(result, model, output)
