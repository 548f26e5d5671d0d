"""Our Dream implementation: the official model's golden logits, checkpoint and config
compatibility, transformers Auto registration, presets, and the generation contract."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from support.golden import golden_path
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

from dllm_core.testing.model_contract import ModelContractTests
from dllm_dream.configuration_dream import DreamConfig
from dllm_dream.family import PRESETS
from dllm_dream.modeling_dream import DreamModel, register_with_transformers

TOL = dict(atol=1e-3, rtol=1e-3)  # manifest.json: suggested_tolerance for the logits


def _tiny(**overrides) -> DreamConfig:
    return DreamConfig(**{**PRESETS["tiny"], "vocab_size": 96, "num_hidden_layers": 2, **overrides})


def _logits(model, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(**kwargs).logits


class TestDreamModelContract(ModelContractTests):
    def make_model(self):
        return DreamModel.from_pretrained(golden_path() / "dream" / "checkpoint").eval()

    def make_inputs(self):
        data = load_file(golden_path() / "dream" / "logits.safetensors")
        # row 1 left-padded; positions cumsum(mask) - 1 as Dream's sampler builds them
        return {"input_ids": data["input_ids_padded"], "attention_mask": data["attention_mask_padded"],
                "position_ids": data["position_ids_padded"]}


class TestQKNormDreamModelContract(ModelContractTests):
    """The contract again for the Qwen3-style options: per-head q/k RMSNorm, head_dim != D / H."""

    def make_model(self):
        torch.manual_seed(0)
        model = DreamModel(_tiny(qk_norm=True, head_dim=64)).eval()
        with torch.no_grad():  # non-trivial norm weights, so the norms' placement matters
            for name, parameter in model.named_parameters():
                if name.endswith(("q_norm.weight", "k_norm.weight")):
                    parameter.uniform_(0.5, 1.5)
        return model

    def make_inputs(self):
        mask = torch.ones(2, 16, dtype=torch.long)
        mask[1, :3] = 0  # row 1 left-padded
        ids = torch.randint(0, 96, (2, 16), generator=torch.Generator().manual_seed(1))
        return {"input_ids": ids, "attention_mask": mask, "position_ids": (mask.cumsum(-1) - 1).clamp(min=0)}


def test_qk_norm_and_head_dim_are_off_by_default():
    """Official Dream: no q/k norms, head size D / H; the Qwen3 options add [Dh] norm weights."""
    assert not any("_norm" in name and "self_attn" in name for name in DreamModel(_tiny()).state_dict())
    assert _tiny().head_dim == 128 // 4
    model = DreamModel(_tiny(qk_norm=True, head_dim=64))
    attention = model.model.layers[0].self_attn
    assert attention.q_norm.weight.shape == attention.k_norm.weight.shape == (64,)
    assert attention.q_proj.weight.shape == (4 * 64, 128) and attention.o_proj.weight.shape == (128, 4 * 64)


def test_golden_logits_unshifted(golden_dir):
    model = DreamModel.from_pretrained(golden_dir / "dream" / "checkpoint")
    data = load_file(golden_dir / "dream" / "logits.safetensors")
    torch.testing.assert_close(_logits(model, input_ids=data["input_ids"]), data["logits"], **TOL)


def test_golden_logits_left_padded_all_positions(golden_dir):
    """The reference's 4D mask (key AND query real) and cumsum positions reproduce every position."""
    model = DreamModel.from_pretrained(golden_dir / "dream" / "checkpoint")
    data = load_file(golden_dir / "dream" / "logits.safetensors")
    mask = data["attention_mask_padded"].bool()
    four_d = mask[:, None, None, :] & mask[:, None, :, None]  # [B, 1, L, L]
    got = _logits(model, input_ids=data["input_ids_padded"], attention_mask=four_d,
                  position_ids=data["position_ids_padded"])
    torch.testing.assert_close(got, data["logits_padded"], **TOL)


def test_golden_logits_left_padded_with_2d_mask(golden_dir):
    """A 2D mask hides padded keys only, so real positions match (padded queries may differ)."""
    model = DreamModel.from_pretrained(golden_dir / "dream" / "checkpoint")
    data = load_file(golden_dir / "dream" / "logits.safetensors")
    mask = data["attention_mask_padded"]
    got = _logits(model, input_ids=data["input_ids_padded"], attention_mask=mask,
                  position_ids=data["position_ids_padded"])
    torch.testing.assert_close(got[mask.bool()], data["logits_padded"][mask.bool()], **TOL)


def test_official_checkpoint_loads_every_weight(golden_dir):
    _, info = DreamModel.from_pretrained(golden_dir / "dream" / "checkpoint", output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys"))


def test_official_config_loads_unchanged(golden_dir, tmp_path):
    path = golden_dir / "dream" / "checkpoint" / "config.json"
    official = json.loads(path.read_text())
    config = DreamConfig.from_pretrained(path.parent)
    # transformers 5 writes torch_dtype as dtype and drops a null rope_scaling
    for key in set(official) - {"torch_dtype", "transformers_version", "rope_scaling"}:
        assert config.to_dict()[key] == official[key], key
    assert getattr(config, "rope_scaling", None) is None
    config.save_pretrained(tmp_path)
    assert DreamConfig.from_pretrained(tmp_path).to_dict() == config.to_dict()


def test_register_with_transformers_is_idempotent(golden_dir):
    register_with_transformers()
    register_with_transformers()
    path = golden_dir / "dream" / "checkpoint"
    assert type(AutoConfig.from_pretrained(path)) is DreamConfig
    masked_lm = AutoModelForMaskedLM.from_pretrained(path)
    assert type(masked_lm) is DreamModel and type(AutoModel.from_pretrained(path)) is DreamModel
    data = load_file(golden_dir / "dream" / "logits.safetensors")
    torch.testing.assert_close(_logits(masked_lm, input_ids=data["input_ids"]), data["logits"], **TOL)


def test_7b_preset_has_the_published_size():
    # Dream-org/Dream-v0-Base-7B (Qwen2.5-7B shape): 7.62B parameters
    with torch.device("meta"):
        model = DreamModel(DreamConfig(**PRESETS["7b"]))
    assert round(model.num_parameters() / 1e9, 2) == 7.62


def test_tiny_preset_trains_on_cpu():
    tokenizer_facts = {"vocab_size": 96, "mask_token_id": 95, "pad_token_id": 94}
    config = DreamConfig(**{**PRESETS["tiny"], **tokenizer_facts})
    model = DreamModel(config)
    assert model.num_parameters() - 2 * 96 * config.hidden_size < 1_000_000
    ids = torch.randint(0, 94, (2, 16))
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    assert out.logits.shape == (2, 16, 96)
    # as in the reference, the pad row of the embedding starts at zero and gets no gradient
    embedding = model.get_input_embeddings().weight
    assert not embedding[94].any() and not embedding.grad[94].any() and embedding.grad.any()


def test_tied_word_embeddings_project_with_the_embedding():
    torch.manual_seed(0)
    tied = DreamModel(_tiny(tie_word_embeddings=True)).eval()
    assert "lm_head.weight" not in tied.state_dict()
    untied = DreamModel(_tiny()).eval()
    state = tied.state_dict()
    state["lm_head.weight"] = state["model.embed_tokens.weight"]
    untied.load_state_dict(state)
    ids = torch.randint(0, 96, (2, 12))
    torch.testing.assert_close(
        _logits(tied, input_ids=ids), _logits(untied, input_ids=ids), atol=0, rtol=0
    )


@pytest.mark.filterwarnings("ignore:`rope_scaling` is deprecated:FutureWarning")  # transformers 5
@pytest.mark.parametrize(
    "option, message",
    [({"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, "rope_scaling"),
     ({"use_sliding_window": True, "sliding_window": 8}, "sliding_window")],
)
def test_unsupported_options_are_rejected(option, message):
    with pytest.raises(NotImplementedError, match=message):
        DreamModel(_tiny(**option))
