"""Our LLaDA2.x MoE model: the hub model's golden logits (bidirectional and block-causal, boolean
and additive masks), the expert bias of the checkpoint, the generation contract, a KV cache under
LLaDA2's block-causal mask, presets, training and the router's auxiliary loss (loading and config
compatibility of both MoE families: test_hub_compatibility)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from support.golden import golden2_path
from transformers.cache_utils import DynamicCache

from dllm_core.api import get_registry
from dllm_core.testing.model_contract import ModelContractTests
from dllm_llada2.configuration_llada2_moe import LLaDA2MoeConfig
from dllm_llada2.family import LLADA2, LLADA2_PRESETS
from dllm_llada2.modeling_llada2_moe import LLaDA2MoeModelLM

TOL = dict(atol=1e-3, rtol=1e-3)  # manifest.json: families.llada2.logits.suggested_tolerance
PAD = 316  # the golden checkpoint's pad id


def _logits(model, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return model(**kwargs).logits


def _tiny(**overrides) -> LLaDA2MoeConfig:
    return LLaDA2MoeConfig(**{**LLADA2_PRESETS["tiny"], "vocab_size": 96, "mask_token_id": 95,
                              "pad_token_id": 0, "eos_token_id": 1, **overrides})


@pytest.fixture(scope="module")
def model(golden2_dir):
    return LLaDA2MoeModelLM.from_pretrained(golden2_dir / "llada2" / "checkpoint").eval()


@pytest.fixture(scope="module")
def data(golden2_dir):
    return load_file(golden2_dir / "llada2" / "logits.safetensors")


class TestLLaDA2ModelContract(ModelContractTests):
    def make_model(self):
        return LLaDA2MoeModelLM.from_pretrained(golden2_path() / "llada2" / "checkpoint").eval()

    def make_inputs(self):
        ids = load_file(golden2_path() / "llada2" / "logits.safetensors")["input_ids"].clone()
        mask = torch.ones_like(ids)
        ids[1, :5], mask[1, :5] = PAD, 0  # row 1 left-padded
        B, L = ids.shape
        return {"input_ids": ids, "attention_mask": mask, "position_ids": torch.arange(L).expand(B, L)}


def test_golden_logits_bidirectional(model, data):
    torch.testing.assert_close(_logits(model, input_ids=data["input_ids"]), data["logits"], **TOL)


@pytest.mark.parametrize("form", ["bool", "additive"])
def test_golden_logits_block_causal(model, data, form):
    """LLaDA2's generate mask (block length 8), given as True = attend or as log(mask) (0 / -inf)."""
    allowed = data["attention_mask_block"]  # [B, 1, L, L] bool
    mask = allowed if form == "bool" else allowed.float().log()
    got = _logits(model, input_ids=data["input_ids_block"], attention_mask=mask,
                  position_ids=data["position_ids_block"])
    torch.testing.assert_close(got, data["logits_block"], **TOL)
    assert not torch.allclose(data["logits_block"], data["logits"], **TOL)  # the mask matters


def test_kv_cache_under_block_causal_mask_matches_one_forward(model, data):
    """Prefix blocks through a cache, then the last block against the cached keys: the logits of
    the last block equal those of one full forward (the hub model's ``logits_block``)."""
    ids, allowed, positions = data["input_ids_block"], data["attention_mask_block"], data["position_ids_block"]
    prefix = 16  # two blocks of 8
    cache = DynamicCache()
    _logits(model, input_ids=ids[:, :prefix], attention_mask=allowed[:, :, :prefix, :prefix],
            position_ids=positions[:, :prefix], past_key_values=cache)
    assert cache.get_seq_length() == prefix
    rest = _logits(model, input_ids=ids[:, prefix:], attention_mask=allowed[:, :, prefix:, :],
                   position_ids=positions[:, prefix:], past_key_values=cache)
    torch.testing.assert_close(rest, data["logits_block"][:, prefix:], **TOL)
    alone = _logits(model, input_ids=ids[:, prefix:], position_ids=positions[:, prefix:])
    assert not torch.allclose(alone, data["logits_block"][:, prefix:], **TOL)  # the prefix is used


def test_official_checkpoint_keeps_the_expert_bias(golden2_dir):
    """The router's ``expert_bias`` is a persistent buffer: the checkpoint's values load (the
    other weights: test_hub_compatibility)."""
    path = golden2_dir / "llada2" / "checkpoint"
    model = LLaDA2MoeModelLM.from_pretrained(path)
    stored = load_file(path / "model.safetensors")["model.layers.1.mlp.gate.expert_bias"]
    assert bool(stored.abs().sum() > 0)
    torch.testing.assert_close(model.model.layers[1].mlp.gate.expert_bias, stored, atol=0, rtol=0)
    assert not model.model.layers[0].is_moe and model.model.layers[1].is_moe  # first_k_dense_replace 1


def test_mini_preset_has_the_published_size():
    """inclusionAI/LLaDA2.0-mini: 16B parameters, 1.4B activated per token."""
    config = LLaDA2MoeConfig(**LLADA2_PRESETS["mini"])
    with torch.device("meta"):
        model = LLaDA2MoeModelLM(config)
    total = model.num_parameters()
    expert = 3 * config.hidden_size * config.moe_intermediate_size
    moe_layers = config.num_hidden_layers - config.first_k_dense_replace
    active = total - moe_layers * (config.num_experts - config.num_experts_per_tok) * expert
    assert round(total / 1e9) == 16 and round(active / 1e9, 1) == 1.4


def test_tiny_preset_trains_with_the_family_objective():
    """The tiny preset on CPU: the family's default objective (block diffusion) gives a finite
    loss whose gradient reaches the embeddings, attention, routed and shared experts and router."""
    torch.manual_seed(0)
    model = LLaDA2MoeModelLM(_tiny()).train()
    assert model.num_parameters() - 2 * 96 * 64 < 250_000
    objective_class = get_registry().objectives.get(LLADA2.default_objective)
    objective = objective_class(objective_class.config_class(block_size=4))
    ids = torch.randint(2, 95, (2, 16))
    batch = {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)}
    loss = objective.loss(model, batch, LLADA2).loss
    assert torch.isfinite(loss)
    loss.backward()
    moe = model.model.layers[1].mlp
    for name, parameter in [("embedding", model.model.word_embeddings.weight), ("router", moe.gate.weight),
                            ("qkv", model.model.layers[2].attention.query_key_value.weight),
                            ("shared", moe.shared_experts.down_proj.weight), ("lm_head", model.lm_head.weight)]:
        assert parameter.grad is not None and bool(parameter.grad.abs().sum() > 0), name
    assert any(bool(expert.down_proj.weight.grad.abs().sum() > 0) for expert in moe.experts)
    assert moe.gate.expert_bias.grad is None  # a buffer, not trained by gradients


def _balance_loss_by_hand(router_logits, valid, top_k):
    """E * sum_e f_e P_e over every layer's tokens together, with P the normalised sigmoid scores
    and f the share of tokens routing to e (one group, zero bias: the top-k scores)."""
    scores = torch.cat([torch.sigmoid(z) for z in router_logits])  # [layers * N, E]
    keep = valid.repeat(len(router_logits))
    scores = scores[keep]
    experts = scores.shape[1]
    chosen = scores.topk(top_k, dim=-1).indices
    f = torch.tensor([float((chosen == e).any(dim=-1).float().mean()) for e in range(experts)])
    p = (scores / scores.sum(dim=-1, keepdim=True)).mean(dim=0)
    return experts * (f * p).sum()


def test_router_aux_loss_joins_the_loss_while_training():
    torch.manual_seed(0)
    config = _tiny(output_router_logits=True, router_aux_loss_coef=0.5, n_group=1, topk_group=1)
    model = LLaDA2MoeModelLM(config).train()
    ids = torch.randint(2, 95, (2, 12))
    attention = torch.ones_like(ids)
    attention[0, :3] = 0  # padding is not counted
    labels = torch.full_like(ids, -100)
    labels[:, 5:] = ids[:, 5:]
    out = model(input_ids=ids, attention_mask=attention, labels=labels)
    assert len(out.router_logits) == 2 and out.router_logits[0].shape == (24, 4)
    expected_aux = _balance_loss_by_hand(out.router_logits, attention.bool().reshape(-1), 2)
    torch.testing.assert_close(out.aux_loss, expected_aux)
    cross_entropy = F.cross_entropy(out.logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    torch.testing.assert_close(out.loss, cross_entropy + 0.5 * expected_aux)
    out.aux_loss.backward()
    assert bool(model.model.layers[1].mlp.gate.weight.grad.abs().sum() > 0)
    model.eval()
    with torch.no_grad():
        evaluated = model(input_ids=ids, attention_mask=attention, labels=labels)
    torch.testing.assert_close(evaluated.loss, F.cross_entropy(
        evaluated.logits.flatten(0, 1), labels.flatten(), ignore_index=-100))
    assert evaluated.aux_loss is not None
    plain = LLaDA2MoeModelLM(_tiny()).train()(input_ids=ids, labels=labels)
    assert plain.aux_loss is None and plain.router_logits is None


@pytest.mark.parametrize("option, error", [
    ({"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, NotImplementedError),
    ({"use_sliding_window": True}, NotImplementedError),
    ({"n_group": 4}, ValueError),  # groups of one expert cannot be scored by their best two
    ({"topk_group": 1, "num_experts_per_tok": 3}, ValueError),
    ({"partial_rotary_factor": 0.3}, None),  # 4 of 16 features rotate: fine
])
def test_unsupported_options_are_rejected(option, error):
    if error is None:
        LLaDA2MoeModelLM(_tiny(**option))
        return
    with pytest.raises(error):
        LLaDA2MoeModelLM(_tiny(**option))
