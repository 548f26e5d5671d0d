"""``dllm convert --from-ar``: a tiny Qwen2/Qwen3/Llama causal LM becomes a Dream checkpoint.

What is checkable: Dream is bidirectional, so with its default (full) attention its logits differ
from the AR model's; with a causal attention mask it must compute exactly the AR logits (same
weights, zero biases where Llama and Qwen3 have none, Qwen3's q/k norms and head size carried
over). The new token rows are the mean of the old rows. ``dllm convert --from-ar`` without
``--family``/``--objective`` still converts into Dream.
"""

from __future__ import annotations

import argparse
import json
import string
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dllm_core.api import ConvertRequest, DllmError
from dllm_core.cli import convert_command
from dllm_dream.convert import convert_from_ar

EOS = "<|endoftext|>"
SHAPE = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=128)


def ar_tokenizer():
    """A character tokenizer with EOS only: no mask, BOS or pad token."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate((EOS, *string.ascii_lowercase, " "))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=EOS))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens([AddedToken(EOS, special=True, normalized=False)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS)


def save_ar(folder: Path, kind: str, extra_rows: int = 0, **overrides) -> torch.nn.Module:
    """Save a tiny random ``kind`` causal LM with :func:`ar_tokenizer` to ``folder``; return it.

    Qwen3 gets head_dim 16, twice hidden_size / heads, as real Qwen3 sizes have their own.
    """
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

    tokenizer = ar_tokenizer()
    classes = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM),
               "qwen3": (Qwen3Config, Qwen3ForCausalLM)}
    config_class, model_class = classes[kind]
    own = {"head_dim": 16} if kind == "qwen3" else {}
    config = config_class(**{**SHAPE, **own, **overrides}, vocab_size=len(tokenizer) + extra_rows,
                          eos_token_id=0, tie_word_embeddings=False, rms_norm_eps=1e-6)
    torch.manual_seed(0)
    model = model_class(config).eval()
    with torch.no_grad():  # random non-zero biases and norm weights, so copying them is really tested
        for name, parameter in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                parameter.normal_(0, 0.1) if name.endswith("bias") else parameter.uniform_(0.5, 1.5)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return model


def causal_mask(length: int) -> torch.Tensor:
    return torch.ones(length, length, dtype=torch.bool).tril()[None, None]  # [1, 1, L, L]


@pytest.mark.parametrize("kind, extra_rows", [("qwen2", 0), ("qwen2", 5), ("llama", 0), ("qwen3", 0)])
def test_converted_model_computes_the_ar_logits_under_a_causal_mask(tmp_path, kind, extra_rows):
    from dllm_dream.modeling_dream import DreamModel
    from transformers import AutoTokenizer

    ar = save_ar(tmp_path / "ar", kind, extra_rows)
    result = convert_from_ar(ConvertRequest(tmp_path / "ar", tmp_path / "dream"))
    known = 28  # EOS + 26 letters + space
    assert result.family == "dream" and result.model_type == "Dream"
    assert result.added_tokens == ["<|mask|>", "<|beginoftext|>"]
    assert result.vocab_size == max(known + 2, known + extra_rows)

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "dream")
    model = DreamModel.from_pretrained(tmp_path / "dream").eval()
    assert tokenizer.mask_token == "<|mask|>" and tokenizer.mask_token_id == result.mask_token_id
    assert tokenizer.bos_token == "<|beginoftext|>" and tokenizer.pad_token == EOS
    config = json.loads((tmp_path / "dream" / "config.json").read_text())
    assert config["model_type"] == "Dream" and config["mask_token_id"] == tokenizer.mask_token_id
    assert config["bos_token_id"] == tokenizer.bos_token_id and config["vocab_size"] == result.vocab_size
    info = json.loads((tmp_path / "dream" / "dllm.json").read_text())
    assert info["family"] == "dream" and info["generator"]["preset"] == "dream"
    assert info["objective"] == {"name": "masked-diffusion"}

    embed, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert embed.shape[0] == head.shape[0] == result.vocab_size >= len(tokenizer)
    ar_embed, ar_head = ar.get_input_embeddings().weight, ar.get_output_embeddings().weight
    torch.testing.assert_close(embed[:known], ar_embed[:known], rtol=0, atol=0)
    torch.testing.assert_close(head[:known], ar_head[:known], rtol=0, atol=0)
    new_rows = result.initialised_rows
    assert tokenizer.mask_token_id in new_rows and tokenizer.bos_token_id in new_rows
    torch.testing.assert_close(embed[new_rows], ar_embed[:known].mean(0).expand(len(new_rows), -1))
    torch.testing.assert_close(head[new_rows], ar_head[:known].mean(0).expand(len(new_rows), -1))
    if kind in ("llama", "qwen3"):
        assert len(result.zero_filled) == 3 * SHAPE["num_hidden_layers"]
        assert all(model.get_parameter(name).abs().sum() == 0 for name in result.zero_filled)
    else:
        assert result.zero_filled == []
    head_dim = 16 if kind == "qwen3" else SHAPE["hidden_size"] // SHAPE["num_attention_heads"]
    assert config["qk_norm"] == (kind == "qwen3") and config["head_dim"] == head_dim
    if kind == "qwen3":
        for name in ("model.layers.1.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight"):
            torch.testing.assert_close(model.get_parameter(name), ar.get_parameter(name), rtol=0, atol=0)

    ids = torch.tensor([tokenizer("the quick brown fox")["input_ids"]])
    with torch.no_grad():
        expected = ar(ids).logits[..., :known]  # [1, L, known]: the rows both models share
        causal = model(ids, attention_mask=causal_mask(ids.shape[1])).logits[..., :known]
        full = model(ids).logits[..., :known]
    torch.testing.assert_close(causal, expected, rtol=1e-4, atol=1e-5)
    # bidirectional by default: the first positions now see the future and change
    assert not torch.allclose(full[:, 0], expected[:, 0], atol=1e-3)


def test_unconvertible_sources_are_refused(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=4, n_positions=64, vocab_size=28))
    gpt2.save_pretrained(tmp_path / "gpt2")
    ar_tokenizer().save_pretrained(tmp_path / "gpt2")
    with pytest.raises(DllmError, match="'gpt2' model; --from-ar into the dream family converts qwen2, llama, qwen3"):
        convert_from_ar(ConvertRequest(tmp_path / "gpt2", tmp_path / "out"))
    save_ar(tmp_path / "biased", "qwen3", attention_bias=True)  # an o_proj bias Dream has no place for
    with pytest.raises(DllmError, match="no place for .*o_proj.bias"):
        convert_from_ar(ConvertRequest(tmp_path / "biased", tmp_path / "out"))
    save_ar(tmp_path / "windowed", "qwen2", use_sliding_window=True, sliding_window=4)
    with pytest.raises(DllmError, match="sliding-window"):
        convert_from_ar(ConvertRequest(tmp_path / "windowed", tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    with pytest.raises(DllmError, match="no config.json"):
        convert_from_ar(ConvertRequest(tmp_path / "missing", tmp_path / "out"))


def test_convert_command_then_dllm_sample(tmp_path, capsys):
    save_ar(tmp_path / "ar", "qwen2")
    parser = argparse.ArgumentParser()
    convert_command.add_arguments(parser)
    args = parser.parse_args(["--from-ar", str(tmp_path / "ar"), "--output", str(tmp_path / "dream")])
    assert convert_command.run(args) == 0  # neither --family nor --objective: Dream, as before
    out = capsys.readouterr().out
    assert "family: dream (model_type Dream)" in out and "added tokens: <|mask|>, <|beginoftext|>" in out
    names = {path.name for path in (tmp_path / "dream").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "dllm.json"} <= names
    result = subprocess.run([sys.executable, "-m", "dllm_core.cli.main", "sample", str(tmp_path / "dream"),
                             "--prompt", "the cat", "--gen-length", "6", "--steps", "6"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "### completion" in result.stdout and "(nfe 6)" in result.stdout


@pytest.mark.parametrize("options, error", [
    (["--family", "llada"], "the llada family cannot be converted into from an AR checkpoint"),
    (["--family", "dream", "--objective", "block-diffusion"],
     "the dream family converts for its masked-diffusion objective, not block-diffusion"),
    (["--block-size", "8"], "--block-size is for block-diffusion targets"),
])
def test_convert_command_refuses_targets_dream_cannot_be(tmp_path, options, error):
    save_ar(tmp_path / "ar", "qwen2")
    parser = argparse.ArgumentParser()
    convert_command.add_arguments(parser)
    args = parser.parse_args(["--from-ar", str(tmp_path / "ar"), "--output", str(tmp_path / "out"), *options])
    with pytest.raises(DllmError, match=error):
        convert_command.run(args)
    assert not (tmp_path / "out").exists()


def test_dllm_convert_is_the_cores_command():
    from dllm_core.api import get_registry

    entry = get_registry().commands.entry("convert")
    assert entry.resolve() is convert_command
    parser = argparse.ArgumentParser()
    convert_command.add_arguments(parser)
    args = parser.parse_args(["--from-ar", "ar", "--output", "out"])
    assert args.family is None and args.objective is None and args.source == Path("ar")
    assert get_registry().families.get("dream").ar_converter == "dllm_dream.convert:convert_from_ar"
