"""``column_major_lm_head``: the LM head's weight re-laid column-major in place, with the logits and
the generated tokens bitwise those of the loaded (row-major) layout, and the checkpoint written
and loaded back as before."""

from __future__ import annotations

import copy

import pytest
import torch

from dllm_core.checkpoint import CheckpointInfo, load_for_inference, resolve_family, save_checkpoint
from dllm_core.generation import FASTDLLM, LLADA, generate
from dllm_core.modeling import column_major_lm_head
from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_llada.configuration_llada import LLaDAConfig
from dllm_llada.family import PRESETS
from dllm_llada.modeling_llada import LLaDAModelLM

VOCAB = 2048
MASK = VOCAB - 1


def _model(**overrides) -> LLaDAModelLM:
    torch.manual_seed(0)
    config = LLaDAConfig(**{**PRESETS["tiny"], "d_model": 64, "n_heads": 2, "n_kv_heads": 2, "n_layers": 2,
                            "mlp_hidden_size": 128, "vocab_size": VOCAB, "embedding_size": VOCAB,
                            "mask_token_id": MASK, "eos_token_id": VOCAB - 2, "pad_token_id": VOCAB - 2,
                            **overrides})
    model = LLaDAModelLM(config).eval()
    with torch.no_grad():  # a confident head, so that generation commits by clear margins
        model.get_output_embeddings().weight.mul_(8.0)
    return model


@pytest.fixture(scope="module")
def pair() -> tuple[LLaDAModelLM, LLaDAModelLM]:
    """(loaded layout, column-major layout) of the same weights."""
    model = _model()
    relaid = copy.deepcopy(model)
    assert column_major_lm_head(relaid)
    return model, relaid


def test_the_weight_is_relaid_in_place(pair):
    model, relaid = pair
    before, after = model.get_output_embeddings().weight, relaid.get_output_embeddings().weight
    assert after.shape == before.shape == (VOCAB, 64)
    assert after.stride() == (1, VOCAB) and before.stride() == (64, 1)
    assert torch.equal(after, before)
    parameter = relaid.get_output_embeddings().weight
    assert not column_major_lm_head(relaid)  # already column-major: left alone
    assert relaid.get_output_embeddings().weight is parameter


@pytest.mark.parametrize("keep", [0, slice(20, 24), slice(16, 32), torch.tensor([17, 18, 25, 30, 31])],
                         ids=["all", "4 rows", "16 rows", "5 gathered"])
@torch.no_grad()
def test_logits_are_bitwise_those_of_the_loaded_layout_on_one_thread(pair, keep, torch_threads):
    model, relaid = pair
    ids = torch.randint(0, MASK, (2, 40), generator=torch.Generator().manual_seed(1))
    ids[:, 16:] = MASK
    assert torch.equal(relaid(ids, logits_to_keep=keep).logits, model(ids, logits_to_keep=keep).logits)


@torch.no_grad()
def test_logits_agree_to_rounding_on_several_threads(pair):
    model, relaid = pair
    ids = torch.randint(0, MASK, (3, 40), generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(relaid(ids).logits, model(ids).logits, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("preset, extra", [(LLADA, {}), (FASTDLLM, dict(use_cache="dual", threshold=0.9))],
                         ids=["llada", "dual threshold"])
def test_generated_tokens_are_those_of_the_loaded_layout(pair, preset, extra):
    model, relaid = pair
    prompt = torch.randint(0, MASK - 1, (2, 12), generator=torch.Generator().manual_seed(2))
    runs = [generate(m, prompt, preset=preset, steps=32, gen_length=32, block_length=16, **extra) for m in pair]
    assert torch.equal(runs[0].sequences, runs[1].sequences)
    assert runs[0].nfe == runs[1].nfe


def test_other_heads_are_left_as_they_are():
    bf16 = _model().to(torch.bfloat16)
    assert not column_major_lm_head(bf16)
    assert bf16.get_output_embeddings().weight.is_contiguous()
    assert not column_major_lm_head(torch.nn.Linear(4, 4))  # no output embeddings


@torch.no_grad()
def test_a_tied_head_is_relaid_and_embeds_as_before():
    model = _model(weight_tying=True)
    relaid = copy.deepcopy(model)
    assert column_major_lm_head(relaid)
    assert relaid.get_input_embeddings().weight.stride() == (1, VOCAB)
    ids = torch.randint(0, VOCAB, (1, 24), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(relaid(ids).logits, model(ids).logits, rtol=1e-6, atol=1e-5)


def test_load_for_inference_relays_and_a_relaid_model_saves_as_before(tmp_path):
    tokenizer = build_char_tokenizer()
    vocab = len(tokenizer)
    model = _model(vocab_size=vocab, embedding_size=vocab, mask_token_id=tokenizer.mask_token_id,
                   eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    folder = save_checkpoint(model, tokenizer, tmp_path / "saved", CheckpointInfo(family="llada"))
    loaded, _, _ = load_for_inference(folder, resolve_family(folder))
    weight = loaded.get_output_embeddings().weight
    assert weight.stride() == (1, vocab)
    assert torch.equal(weight, model.get_output_embeddings().weight)
    again = save_checkpoint(loaded, tokenizer, tmp_path / "again", CheckpointInfo(family="llada"))
    reloaded, _, _ = load_for_inference(again, resolve_family(again))
    for (name, first), (_, second) in zip(model.state_dict().items(), reloaded.state_dict().items()):
        assert torch.equal(first, second), name
