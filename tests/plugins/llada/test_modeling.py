"""Our LLaDA implementation: the official model's golden logits, checkpoint and config
compatibility, transformers Auto registration, presets, and the generation contract."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from support.golden import golden_path
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

from dllm_core.testing.model_contract import ModelContractTests
from dllm_llada.configuration_llada import LLaDAConfig
from dllm_llada.family import PRESETS
from dllm_llada.modeling_llada import LLaDAModelLM, register_with_transformers

TOL = dict(atol=1e-3, rtol=1e-3)  # manifest.json: suggested_tolerance for the logits


def _tiny(**overrides) -> LLaDAConfig:
    return LLaDAConfig(**{**PRESETS["tiny"], "vocab_size": 96, "n_layers": 2, **overrides})


def _logits(model, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(**kwargs).logits


def _assert_same_logits(a, b, ids, atol=0.0):
    torch.testing.assert_close(_logits(a, input_ids=ids), _logits(b, input_ids=ids), atol=atol, rtol=0)


class TestLLaDAModelContract(ModelContractTests):
    def make_model(self):
        return LLaDAModelLM.from_pretrained(golden_path() / "llada" / "checkpoint").eval()

    def make_inputs(self):
        data = load_file(golden_path() / "llada" / "logits.safetensors")
        ids = data["input_ids_padded"]  # row 1 left-padded
        B, L = ids.shape
        # LLaDA numbers positions 0..L-1 whatever the padding
        return {"input_ids": ids, "attention_mask": data["attention_mask_padded"],
                "position_ids": torch.arange(L).expand(B, L)}


def test_golden_logits(golden_dir):
    model = LLaDAModelLM.from_pretrained(golden_dir / "llada" / "checkpoint")
    data = load_file(golden_dir / "llada" / "logits.safetensors")
    torch.testing.assert_close(_logits(model, input_ids=data["input_ids"]), data["logits"], **TOL)


def test_golden_logits_left_padded_all_positions(golden_dir):
    model = LLaDAModelLM.from_pretrained(golden_dir / "llada" / "checkpoint")
    data = load_file(golden_dir / "llada" / "logits.safetensors")
    got = _logits(
        model, input_ids=data["input_ids_padded"], attention_mask=data["attention_mask_padded"]
    )
    torch.testing.assert_close(got, data["logits_padded"], **TOL)


def test_official_checkpoint_loads_every_weight(golden_dir):
    path = golden_dir / "llada" / "checkpoint"
    _, info = LLaDAModelLM.from_pretrained(path, output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys"))


def test_official_config_loads_unchanged(golden_dir, tmp_path):
    path = golden_dir / "llada" / "checkpoint" / "config.json"
    official = json.loads(path.read_text())
    config = LLaDAConfig.from_pretrained(path.parent)
    for key in set(official) - {"torch_dtype", "transformers_version"}:
        assert config.to_dict()[key] == official[key], key
    assert config.init_device == "meta" and config.hidden_size == official["d_model"]
    config.save_pretrained(tmp_path)
    assert LLaDAConfig.from_pretrained(tmp_path).to_dict() == config.to_dict()


def test_register_with_transformers_is_idempotent(golden_dir):
    register_with_transformers()
    register_with_transformers()
    path = golden_dir / "llada" / "checkpoint"
    assert type(AutoConfig.from_pretrained(path)) is LLaDAConfig
    masked_lm = AutoModelForMaskedLM.from_pretrained(path)
    assert type(masked_lm) is LLaDAModelLM and type(AutoModel.from_pretrained(path)) is LLaDAModelLM
    data = load_file(golden_dir / "llada" / "logits.safetensors")
    torch.testing.assert_close(_logits(masked_lm, input_ids=data["input_ids"]), data["logits"], **TOL)


@pytest.mark.parametrize("name, billions", [("1b", 1.49), ("8b", 8.02)])
def test_presets_have_the_published_sizes(name, billions):
    # 8.02B: GSAI-ML/LLaDA-8B-Instruct; 1.49B: LLaDA 1B in the paper's architecture table
    with torch.device("meta"):
        model = LLaDAModelLM(LLaDAConfig(**PRESETS[name]))
    assert round(model.num_parameters() / 1e9, 2) == billions


def test_tiny_preset_trains_on_cpu():
    config = LLaDAConfig(**{**PRESETS["tiny"], "vocab_size": 96, "mask_token_id": 95})
    model = LLaDAModelLM(config)
    assert model.num_parameters() - 2 * 96 * config.d_model < 1_000_000
    ids = torch.randint(0, 95, (2, 16))
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    assert out.logits.shape == (2, 16, 96) and model.model.transformer.wte.weight.grad is not None


def test_grouped_query_attention_equals_repeated_heads():
    torch.manual_seed(0)
    gqa = LLaDAModelLM(_tiny(n_kv_heads=2)).eval()  # 4 query heads over 2 key/value heads
    mha = LLaDAModelLM(_tiny(n_kv_heads=4)).eval()
    state = gqa.state_dict()
    head_dim = gqa.config.d_model // gqa.config.n_heads
    for name, weight in list(state.items()):
        if name.endswith(("k_proj.weight", "v_proj.weight")):  # [H_kv * Dh, D] -> [H * Dh, D]
            per_head = weight.view(2, head_dim, -1)  # [H_kv, Dh, D]
            state[name] = per_head.repeat_interleave(2, dim=0).reshape(-1, weight.shape[1])
    mha.load_state_dict(state)
    ids = torch.randint(0, 96, (2, 12))
    _assert_same_logits(gqa, mha, ids, atol=1e-5)


def test_weight_tying_projects_with_the_embedding(tmp_path):
    torch.manual_seed(0)
    tied = LLaDAModelLM(_tiny(weight_tying=True)).eval()
    assert not any("ff_out" in name and "blocks" not in name for name in tied.state_dict())
    untied = LLaDAModelLM(_tiny()).eval()
    state = tied.state_dict()
    state["model.transformer.ff_out.weight"] = state["model.transformer.wte.weight"]
    untied.load_state_dict(state)
    ids = torch.randint(0, 96, (2, 12))
    _assert_same_logits(tied, untied, ids)
    tied.save_pretrained(tmp_path)
    reloaded, info = LLaDAModelLM.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    _assert_same_logits(reloaded, tied, ids)


def test_embedding_and_logit_scaling_options():
    torch.manual_seed(0)
    plain = LLaDAModelLM(_tiny()).eval()
    scaled = LLaDAModelLM(_tiny(input_emb_norm=True, scale_logits=True)).eval()
    state = plain.state_dict()
    scaled.load_state_dict(state)
    d = plain.config.d_model
    state["model.transformer.wte.weight"] = state["model.transformer.wte.weight"] * d**0.5
    plain.load_state_dict(state)  # embeddings pre-multiplied by sqrt(d) = input_emb_norm
    ids = torch.randint(0, 96, (2, 12))
    torch.testing.assert_close(
        _logits(scaled, input_ids=ids), _logits(plain, input_ids=ids) / d**0.5, atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize(
    "option", [{"block_type": "sequential"}, {"alibi": True}, {"attention_layer_norm": True}]
)
def test_unsupported_options_are_rejected(option):
    with pytest.raises(NotImplementedError, match=next(iter(option))):
        LLaDAModelLM(_tiny(**option))
