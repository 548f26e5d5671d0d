"""The ``Objective`` contract: ``loss(model, batch, family) -> LossOutput``.

A batch is a dict of tensors produced by the data collators:

* ``input_ids [B, L]`` -- the clean sequence x_0;
* ``labels [B, L]`` -- ``-100`` where a position is never noised and carries no loss (prompt
  tokens in SFT, padding); any other value marks a position as *maskable*;
* ``attention_mask [B, L]`` (optional) -- 1 for real tokens, 0 for padding;
* ``mask_token_id`` (optional) -- overrides ``model.config.mask_token_id``.

The trainer only ever calls :meth:`Objective.loss`; it does not know which objective it runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import torch

if TYPE_CHECKING:
    from dllm_core.family import ModelFamily

Batch = Mapping[str, Any]


@dataclass
class LossOutput:
    """What an objective returns.

    Attributes:
        loss: scalar tensor to back-propagate.
        metrics: detached scalars (tensors or floats) to report, e.g. ``nll_bound``,
            ``ppl_bound`` and ``num_tokens`` (the token count ``nll_bound`` is averaged over,
            which the trainer uses to average it over an evaluation set).
    """

    loss: torch.Tensor
    metrics: dict[str, float | torch.Tensor] = field(default_factory=dict)


class Objective(ABC):
    """A training objective: how a batch and a model become a scalar loss."""

    #: the name this class is registered under (``dllm list objectives``)
    name: ClassVar[str] = ""
    #: the config dataclass the constructor takes: ``cls(cls.config_class(**options))``
    config_class: ClassVar[type[Any]]
    #: batch keys the objective reads; the trainer keeps these dataset columns
    batch_keys: ClassVar[tuple[str, ...]] = ("input_ids", "labels", "attention_mask", "mask_token_id")
    #: the generator that samples what this objective trains when the family's default generator
    #: cannot (recorded in the checkpoint's ``dllm.json``); ``None``: the family's default
    generator: ClassVar[str | None] = None
    #: config options a run fine-tuning a checkpoint trained with this objective takes over
    #: from that checkpoint's ``dllm.json`` unless given (what the weights were shaped by)
    checkpoint_options: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def loss(
        self,
        model: torch.nn.Module,
        batch: Batch,
        family: ModelFamily | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> LossOutput:
        """Compute the loss of ``model`` on ``batch``.

        Args:
            model: the (possibly wrapped: peft, DDP, ...) model.
            batch: see the module docstring.
            family: the model's family (``logit_shift``, ...) or ``None``.
            generator: random source for the noise (time and mask draws); ``None`` uses torch's
                global generator. Must live on the batch's device.
        """
