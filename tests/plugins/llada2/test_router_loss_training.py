"""The objectives add a mixture-of-experts model's load-balancing loss while training:
``loss = objective loss + router_aux_loss_coef * aux_loss``, reported as ``router_aux_loss``."""

from __future__ import annotations

import pytest
import torch

from dllm_core.objectives.block_diffusion import BlockDiffusionConfig, BlockDiffusionObjective
from dllm_core.objectives.masked_diffusion import MaskedDiffusionObjective
from dllm_llada2.configuration_lladamoe import LLaDAMoEConfig
from dllm_llada2.family import LLADAMOE_PRESETS
from dllm_llada2.modeling_lladamoe import LLaDAMoEModelLM


def _model(coefficient: float) -> LLaDAMoEModelLM:
    torch.manual_seed(0)
    config = LLaDAMoEConfig(**{**LLADAMOE_PRESETS["tiny"], "vocab_size": 64, "mask_token_id": 63,
                               "eos_token_id": 62, "pad_token_id": 62, "output_router_logits": True,
                               "router_aux_loss_coef": coefficient})
    return LLaDAMoEModelLM(config)


@pytest.mark.parametrize("objective", [MaskedDiffusionObjective(), BlockDiffusionObjective(BlockDiffusionConfig(block_size=4))],
                         ids=["masked", "block"])
def test_router_loss_joins_the_objective_while_training(objective):
    ids = torch.randint(0, 60, (2, 12), generator=torch.Generator().manual_seed(1))
    batch = {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)}
    plain, weighted = _model(0.0).train(), _model(0.5).train()
    base = objective.loss(plain, batch, generator=torch.Generator().manual_seed(2))
    with_aux = objective.loss(weighted, batch, generator=torch.Generator().manual_seed(2))
    aux = with_aux.metrics["router_aux_loss"]
    assert "router_aux_loss" not in base.metrics and float(aux) > 0
    torch.testing.assert_close(with_aux.loss, base.loss + 0.5 * aux)
    with_aux.loss.backward()
    assert weighted.model.layers[0].mlp.gate.weight.grad is not None  # the router learns from it
    evaluated = objective.loss(_model(0.5).eval(), batch, generator=torch.Generator().manual_seed(2))
    assert "router_aux_loss" not in evaluated.metrics  # an evaluation reports the bound alone
