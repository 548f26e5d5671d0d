"""What the two MoE language models share on top of the core's decoder parts: the MoE decoder
layer, the module tree that collects router logits, the router outputs and load-balancing loss,
and weight initialisation.

When ``config.output_router_logits`` is set, ``forward`` also returns every MoE layer's router
logits and the auxiliary load-balancing loss over all of them (the Switch-Transformer loss of
:func:`~dllm_llada2.routing.load_balancing_loss` over the tokens of every MoE layer together,
padding excluded under a 2D mask). While training with ``labels`` it is added to the loss:

    loss = CE(logits, labels) + router_aux_loss_coef * aux_loss

dllm's objectives score the logits themselves and do not see ``aux_loss``; see the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.cache_utils import Cache

from dllm_core.api import (
    DecoderBackbone,
    DiffusionLMHeadMixin,
    DiffusionLMOutput,
    PreNormDecoderLayer,
    init_weights_normal,
)
from dllm_llada2.rotary import PartialRotary
from dllm_llada2.routing import load_balancing_loss


@dataclass
class MoeDiffusionLMOutput(DiffusionLMOutput):
    """``DiffusionLMOutput`` plus, with ``output_router_logits``, the router outputs.

    Attributes:
        aux_loss: the load-balancing loss (unscaled) over every MoE layer.
        router_logits: one float32 [B*q, E] tensor per MoE layer.
    """

    aux_loss: Optional[torch.FloatTensor] = None
    router_logits: Optional[tuple[torch.FloatTensor, ...]] = None


class MoeDecoderLayer(PreNormDecoderLayer):
    """A pre-norm layer whose ``mlp`` is a dense SwiGLU or, when ``is_moe``, an MoE block that
    returns its output and router logits [B*q, E]; a ``shared_expert`` beside the block
    (LLaDA-MoE) is added to the block's output. ``forward`` returns the output [B, q, D] and the
    router logits (``None`` in a dense layer)."""

    is_moe: bool

    def feed_forward(self, x: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        if not self.is_moe:
            return x + self.mlp(n), None
        y, router_logits = self.mlp(n)
        if hasattr(self, "shared_expert"):
            y = y + self.shared_expert(n)
        return x + y, router_logits


class MoeBackbone(DecoderBackbone):
    """A family's module tree ``self.model`` (token embedding, :class:`MoeDecoderLayer` s, final
    norm) with partial rotary tables, as :class:`MoeDiffusionLM` uses it.

    ``forward(input_ids, position_ids, attention_mask, cache, logits_to_keep)`` returns the final
    hidden states of the kept positions and leaves, in ``router_logits``, the router logits of
    every MoE layer of that call when ``config.output_router_logits`` is set (else ``()``).
    """

    router_logits: tuple[torch.Tensor, ...] = ()

    def __init__(self, config: Any, head_dim: int, make_layer: Callable[[Any, int, PartialRotary], nn.Module]):
        """``make_layer(config, i, rotary)`` builds layer i, sharing the rotary embedding of
        ``partial_rotary_factor`` of ``head_dim``."""
        rotary = PartialRotary.from_factor(head_dim, config.partial_rotary_factor, config.rope_theta)
        super().__init__(config, lambda i: make_layer(config, i, rotary))
        self.rotary = rotary

    def rotary_tables(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rotary.tables(position_ids)  # [B, q, Dh] each

    def run_layers(
        self,
        x: torch.Tensor,  # [B, q, D]
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: Optional[torch.Tensor],
        cache: Optional[Cache],
    ) -> torch.Tensor:  # [B, q, D]
        router_logits = []
        for layer in self.layers:
            x, logits = layer(x, cos, sin, mask, cache=cache)
            if logits is not None:
                router_logits.append(logits)
        self.router_logits = tuple(router_logits) if self.config.output_router_logits else ()
        return x

    def balance_inputs(self, router_logits: tuple[torch.Tensor, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per MoE layer, the router probabilities [N, E] and chosen experts [N, k] for the loss
        (each MoE block's ``balance_inputs`` of its router logits)."""
        blocks = [layer.mlp for layer in self.layers if layer.is_moe]
        return [block.balance_inputs(logits) for block, logits in zip(blocks, router_logits)]


class MoeDiffusionLM(DiffusionLMHeadMixin, PreTrainedModel):
    """A family's masked-diffusion MoE LM: ``self.model`` (a :class:`MoeBackbone`) and ``lm_head``.

    The ``forward`` contract is the core's (see ``DiffusionLMMixin``); the output is a
    :class:`MoeDiffusionLMOutput`.
    """

    model: MoeBackbone

    def _init_weights(self, module: nn.Module) -> None:
        """N(0, initializer_range) for linear, embedding and router weights (pad row zero), zero
        biases and expert biases, unit norm weights."""
        std = self.config.initializer_range
        if init_weights_normal(module, std):
            return
        # a router module: LLaDA2's gate (weight + expert_bias), LLaDA-MoE's block (expert_bias)
        if isinstance(getattr(module, "weight", None), nn.Parameter):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        if isinstance(getattr(module, "expert_bias", None), torch.Tensor):
            nn.init.zeros_(module.expert_bias)

    def _extend_output(
        self,
        out: DiffusionLMOutput,
        input_ids: torch.LongTensor,
        attention_mask: Optional[torch.Tensor],
    ) -> MoeDiffusionLMOutput:
        router_logits = self.model.router_logits
        if not router_logits:
            return MoeDiffusionLMOutput(**out)
        aux_loss = self._aux_loss(router_logits, attention_mask, input_ids.shape[1])
        loss = out.loss
        if loss is not None and self.training:
            loss = loss + self.config.router_aux_loss_coef * aux_loss
        return MoeDiffusionLMOutput(**{**out, "loss": loss}, aux_loss=aux_loss, router_logits=router_logits)

    def _aux_loss(
        self,
        router_logits: tuple[torch.Tensor, ...],
        attention_mask: Optional[torch.Tensor],
        query_length: int,
    ) -> torch.Tensor:
        """Load-balancing loss over the tokens of every MoE layer together (a 2D ``attention_mask``
        [B, Lk] excludes padding; a 4D one does not say which tokens are padding)."""
        statistics = self.model.balance_inputs(router_logits)
        probabilities = torch.cat([p for p, _ in statistics])  # [layers * N, E]
        selected = torch.cat([s for _, s in statistics])  # [layers * N, k]
        valid = None
        if attention_mask is not None and attention_mask.dim() == 2:
            tokens = attention_mask[:, -query_length:].bool().reshape(-1)  # [N]: the query tokens
            valid = tokens.repeat(len(statistics))
        return load_balancing_loss(probabilities, selected, valid)
