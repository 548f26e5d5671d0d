"""Our A2D models: the reference model's golden2 logits (no mask, 2D padding mask, 4D block-causal
mask), loading through the family, the generation contract and an exact block-diffusion KV cache."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from support.golden import golden2_path
from transformers import AutoModelForMaskedLM

from dllm_core.checkpoint import load_model, resolve_family
from dllm_core.generation.cache import DiffusionCache
from dllm_core.model_config import preset_config
from dllm_core.objectives.block_diffusion import BlockDiffusionConfig, BlockDiffusionObjective
from dllm_core.testing.model_contract import ModelContractTests
from dllm_a2d.family import A2D
from dllm_a2d.modeling_a2d import A2DQwen3LMHeadModel, register_with_transformers

TOL = dict(atol=1e-3, rtol=1e-3)  # golden2 manifest: suggested_tolerance for the a2d_qwen3 logits


def checkpoint():
    return golden2_path() / "a2d_qwen3" / "checkpoint"


def golden_logits() -> dict[str, torch.Tensor]:
    return load_file(golden2_path() / "a2d_qwen3" / "logits.safetensors")


def golden_model() -> A2DQwen3LMHeadModel:
    return A2DQwen3LMHeadModel.from_pretrained(checkpoint()).eval()


def logits(model, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return model(**kwargs).logits


@pytest.mark.parametrize("suffix, inputs", [
    ("", ("input_ids",)),
    ("_padded", ("input_ids", "attention_mask")),
    ("_block", ("input_ids", "attention_mask", "position_ids")),
], ids=["no-mask", "2d-padding", "4d-block-causal"])
def test_golden_logits(suffix, inputs):
    data = golden_logits()
    kwargs = {name: data[name + suffix] for name in inputs}
    if suffix == "_block":
        assert kwargs["attention_mask"].dtype == torch.bool and kwargs["attention_mask"].dim() == 4
    torch.testing.assert_close(logits(golden_model(), **kwargs), data["logits" + suffix], **TOL)


def test_load_model_picks_the_a2d_family_from_model_type():
    assert json.loads((checkpoint() / "config.json").read_text())["model_type"] == "a2d-qwen3"
    family = resolve_family(checkpoint())
    assert family.name == "a2d" and family == A2D
    model = load_model(checkpoint())
    assert isinstance(model, A2DQwen3LMHeadModel)
    assert model.config.tie_word_embeddings and not hasattr(model, "lm_head")
    assert model.get_output_embeddings() is model.get_input_embeddings()
    register_with_transformers()
    assert isinstance(AutoModelForMaskedLM.from_pretrained(checkpoint()), A2DQwen3LMHeadModel)


def block_causal(length: int, block: int) -> torch.Tensor:
    """bool [1, 1, L, L]: query i may attend to key j when block(j) <= block(i)."""
    blocks = torch.arange(length) // block
    return (blocks[None, :] <= blocks[:, None])[None, None]


def test_prefix_cache_then_block_equals_full_block_causal_forward():
    """BD3LM's exact cache: the prefix's keys/values recorded once, then a block forward over the
    cached prefix gives the full block-causal forward's logits for that block."""
    model, ids = golden_model(), golden_logits()["input_ids"]  # [B, 24]
    length, block, prefix = ids.shape[1], 8, 16
    full = logits(model, input_ids=ids, attention_mask=block_causal(length, block))
    cache = DiffusionCache()
    cache.record()
    logits(model, input_ids=ids[:, :prefix], attention_mask=block_causal(prefix, block), past_key_values=cache)
    cache.prefix(prefix)
    step = logits(model, input_ids=ids[:, prefix:], past_key_values=cache)  # default positions 16..23
    torch.testing.assert_close(step, full[:, prefix:], atol=1e-4, rtol=0)
    # the block really reads the cache: without it the block alone gives other logits
    assert not torch.allclose(logits(model, input_ids=ids[:, prefix:]), full[:, prefix:], atol=1e-2)


def test_prefix_cache_with_padding_reproduces_the_golden_block_logits():
    """The same with golden2's left-padded block inputs: the padded prefix cached, the last block
    with its rows of BD3LM's 4D mask and positions."""
    model, data = golden_model(), golden_logits()
    ids, mask, positions = data["input_ids_block"], data["attention_mask_block"], data["position_ids_block"]
    prefix = 16
    cache = DiffusionCache()
    cache.record()
    logits(model, input_ids=ids[:, :prefix], attention_mask=mask[:, :, :prefix, :prefix],
           position_ids=positions[:, :prefix], past_key_values=cache)
    cache.prefix(prefix)
    step = logits(model, input_ids=ids[:, prefix:], attention_mask=mask[:, :, prefix:, :],
                  position_ids=positions[:, prefix:], past_key_values=cache)
    torch.testing.assert_close(step, data["logits_block"][:, prefix:], **TOL)


class TestA2DModelContract(ModelContractTests):
    def make_model(self):
        return golden_model()

    def make_inputs(self):
        data = golden_logits()
        mask = data["attention_mask_padded"]  # row 1 left-padded
        return {"input_ids": data["input_ids_padded"], "attention_mask": mask,
                "position_ids": (mask.cumsum(-1) - 1).clamp(min=0)}


def test_block_diffusion_objective_trains_the_model():
    """The family's default objective runs on the model (additive 4D mask over [x_t ; x_0])."""
    model = golden_model().train()
    objective = BlockDiffusionObjective(BlockDiffusionConfig(block_size=8))
    assert objective.name == A2D.default_objective
    ids = golden_logits()["input_ids"][:, :16]
    batch = {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids),
             "mask_token_id": 271}  # golden2 tokenizer_ids
    out = objective.loss(model, batch, A2D, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out.loss) and out.loss > 0
    out.loss.backward()
    assert model.model.layers[0].self_attn.q_norm.weight.grad.abs().sum() > 0


def test_tiny_preset_builds_an_a2d_qwen3_model():
    class Tokenizer:  # what preset_config reads
        mask_token_id, eos_token_id, pad_token_id, bos_token_id = 95, 94, 94, 94

        def __len__(self):
            return 96

    config = preset_config(A2D, "tiny", Tokenizer())
    assert config.model_type == "a2d-qwen3" and config.vocab_size == 96 and config.head_dim == 32
    model = AutoModelForMaskedLM.from_config(config)
    assert isinstance(model, A2DQwen3LMHeadModel)
    assert logits(model.eval(), input_ids=torch.tensor([[1, 2, 95]])).shape == (1, 3, 96)
