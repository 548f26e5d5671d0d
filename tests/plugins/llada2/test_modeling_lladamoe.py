"""Our LLaDA-MoE model: the hub model's golden logits (with and without a left-padded row), the
generation contract, a KV cache under a block-causal mask, dense/shared-expert/expert-bias layouts,
the default shape, training and the auxiliary loss (loading and config compatibility of both MoE
families: test_hub_compatibility)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from support.golden import golden2_path
from transformers.cache_utils import DynamicCache

from dllm_core.api import get_registry
from dllm_core.testing.model_contract import ModelContractTests
from dllm_llada2.configuration_lladamoe import LLaDAMoEConfig
from dllm_llada2.family import LLADAMOE, LLADAMOE_PRESETS
from dllm_llada2.modeling_lladamoe import LLaDAMoEModelLM

TOL = dict(atol=1e-3, rtol=1e-3)  # manifest.json: families.lladamoe.logits.suggested_tolerance


def _logits(model, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return model(**kwargs).logits


def _tiny(**overrides) -> LLaDAMoEConfig:
    return LLaDAMoEConfig(**{**LLADAMOE_PRESETS["tiny"], "vocab_size": 96, "mask_token_id": 95,
                             "pad_token_id": 0, "eos_token_id": 1, **overrides})


@pytest.fixture(scope="module")
def model(golden2_dir):
    return LLaDAMoEModelLM.from_pretrained(golden2_dir / "lladamoe" / "checkpoint").eval()


@pytest.fixture(scope="module")
def data(golden2_dir):
    return load_file(golden2_dir / "lladamoe" / "logits.safetensors")


class TestLLaDAMoEModelContract(ModelContractTests):
    def make_model(self):
        return LLaDAMoEModelLM.from_pretrained(golden2_path() / "lladamoe" / "checkpoint").eval()

    def make_inputs(self):
        data = load_file(golden2_path() / "lladamoe" / "logits.safetensors")
        ids = data["input_ids_padded"]  # row 1 left-padded
        B, L = ids.shape
        return {"input_ids": ids, "attention_mask": data["attention_mask_padded"],
                "position_ids": torch.arange(L).expand(B, L)}


def test_golden_logits(model, data):
    torch.testing.assert_close(_logits(model, input_ids=data["input_ids"]), data["logits"], **TOL)


def test_golden_logits_left_padded_with_2d_mask(model, data):
    got = _logits(model, input_ids=data["input_ids_padded"], attention_mask=data["attention_mask_padded"])
    torch.testing.assert_close(got, data["logits_padded"], **TOL)


def test_kv_cache_under_block_causal_mask_matches_one_forward(model, data):
    """Blocks of 8: the first two through a cache, then the last one; its logits equal those of
    one full forward under the same block-causal mask."""
    ids = data["input_ids"]
    length, block, prefix = ids.shape[1], 8, 16
    blocks = torch.arange(length) // block
    allowed = (blocks[None, :] <= blocks[:, None])[None, None].expand(ids.shape[0], 1, -1, -1)
    full = _logits(model, input_ids=ids, attention_mask=allowed)
    cache = DynamicCache()
    _logits(model, input_ids=ids[:, :prefix], attention_mask=allowed[:, :, :prefix, :prefix], past_key_values=cache)
    rest = _logits(model, input_ids=ids[:, prefix:], attention_mask=allowed[:, :, prefix:, :], past_key_values=cache)
    torch.testing.assert_close(rest, full[:, prefix:], atol=1e-4, rtol=0)
    assert not torch.allclose(full, data["logits"], **TOL)  # the mask matters


def test_layer_layouts_use_the_hub_names():
    """moe_layer_freq 0 = a dense MLP; a shared expert beside the MoE block; an expert_bias buffer
    in the block when the router enables it."""
    config = _tiny(num_hidden_layers=3, moe_layer_freq=[0, 1, 1], shared_expert_intermediate_size=48,
                   moe_router_enable_expert_bias=True)
    names = set(LLaDAMoEModelLM(config).state_dict())
    assert {"model.layers.0.mlp.gate_proj.weight", "model.layers.1.mlp.gate.weight",
            "model.layers.1.mlp.experts.3.down_proj.weight", "model.layers.1.shared_expert.up_proj.weight",
            "model.layers.2.mlp.expert_bias"} <= names
    assert not any(name.startswith(("model.layers.0.shared_expert", "model.layers.0.mlp.gate.")) for name in names)
    with pytest.raises(ValueError, match="moe_layer_freq"):
        LLaDAMoEModelLM(_tiny(moe_layer_freq=[1]))


def test_default_config_is_the_7b_a1b_shape():
    with torch.device("meta"):
        model = LLaDAMoEModelLM(LLaDAMoEConfig())
    config = model.config
    expert = 3 * config.hidden_size * config.expert_intermediate_size
    idle = config.num_hidden_layers * (config.num_experts - config.num_experts_per_tok) * expert
    active = model.num_parameters() - idle
    embeddings = 2 * config.vocab_size * config.hidden_size
    assert round(model.num_parameters() / 1e9) == 7 and round((active - embeddings) / 1e9) == 1


def test_tiny_preset_trains_with_the_family_objective():
    torch.manual_seed(0)
    model = LLaDAMoEModelLM(_tiny()).train()
    assert model.num_parameters() - 2 * 96 * 64 < 250_000
    objective_class = get_registry().objectives.get(LLADAMOE.default_objective)
    objective = objective_class(objective_class.config_class())
    ids = torch.randint(2, 95, (2, 16))
    batch = {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)}
    loss = objective.loss(model, batch, LLADAMOE).loss
    assert torch.isfinite(loss)
    loss.backward()
    moe = model.model.layers[0].mlp
    assert bool(moe.gate.weight.grad.abs().sum() > 0) and bool(model.lm_head.weight.grad.abs().sum() > 0)
    assert any(bool(expert.down_proj.weight.grad.abs().sum() > 0) for expert in moe.experts)


def _mixtral_balance_loss(router_logits, valid, top_k):
    """The hub code's loss: softmax over the concatenated layers' logits, top-k, E * sum f * P."""
    probabilities = torch.softmax(torch.cat(router_logits), dim=-1)[valid.repeat(len(router_logits))]
    experts = probabilities.shape[1]
    chosen = probabilities.topk(top_k, dim=-1).indices
    f = torch.stack([(chosen == e).any(dim=-1).float().mean() for e in range(experts)])
    return experts * (f * probabilities.mean(dim=0)).sum()


def test_router_aux_loss_joins_the_loss_while_training():
    torch.manual_seed(0)
    model = LLaDAMoEModelLM(_tiny(output_router_logits=True, router_aux_loss_coef=0.25)).train()
    ids = torch.randint(2, 95, (2, 10))
    attention = torch.ones_like(ids)
    attention[1, :4] = 0
    labels = torch.where(torch.rand(ids.shape) < 0.5, ids, -100)
    labels[0, 0] = ids[0, 0]
    out = model(input_ids=ids, attention_mask=attention, labels=labels)
    expected_aux = _mixtral_balance_loss(out.router_logits, attention.bool().reshape(-1), 2)
    torch.testing.assert_close(out.aux_loss, expected_aux)
    cross_entropy = F.cross_entropy(out.logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    torch.testing.assert_close(out.loss, cross_entropy + 0.25 * expected_aux)
    loss, logits, aux, router_logits = model(input_ids=ids, attention_mask=attention, labels=labels, return_dict=False)
    torch.testing.assert_close(aux, expected_aux)
