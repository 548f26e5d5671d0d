"""``dllm convert --from-ar ... --objective block-diffusion``: an AR Qwen3/Qwen2/Llama becomes A2D.

What is checkable: A2D is the AR network without its causal mask, so under a causal 4D mask the
converted model must compute exactly the AR logits (every weight under its own name, Qwen3's q/k
norms and head size, Qwen2's biases, a tied or untied head, Llama 3's scaled RoPE); without a mask
it is bidirectional and differs. The mask token's row is the mean of the known rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from dllm_core.api import ConvertRequest, DllmError
from dllm_core.checkpoint import load_model, load_tokenizer, resolve_family
from dllm_core.cli import convert_command
from dllm_core.conversion import converter_family
from dllm_core.special_tokens import resolve_special_tokens
from dllm_a2d.convert import convert_from_ar
from dllm_a2d.family import A2D

#: tokens the fixtures' tokenizer knows (conftest.KNOWN): ChatML specials, 26 letters, space
KNOWN = 30
EOS = "<|endoftext|>"
LLAMA3_ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 16}


def causal_mask(length: int) -> torch.Tensor:
    return torch.ones(length, length, dtype=torch.bool).tril()[None, None]  # [1, 1, L, L]


def dllm_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dllm_core.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("kind, overrides", [
    ("qwen3", {"tie_word_embeddings": True}),
    ("qwen2", {}),
    ("llama", {"rope_parameters": LLAMA3_ROPE}),
], ids=["qwen3-tied", "qwen2-biases", "llama3-rope"])
def test_converted_model_computes_the_ar_logits_under_a_causal_mask(save_ar, tmp_path, kind, overrides):
    source, ar = save_ar(kind, **overrides)
    output = tmp_path / "a2d"
    result = convert_from_ar(ConvertRequest(source, output, block_size=16))
    assert result.family == "a2d" and result.model_type == f"a2d-{kind}"
    assert result.added_tokens == ["<|mask|>"] and result.mask_token_id == KNOWN
    assert result.vocab_size == KNOWN + 1 and result.initialised_rows == [KNOWN]

    assert resolve_family(output) is not None and resolve_family(output).name == "a2d"
    model = load_model(output).eval()
    assert type(model).__name__ == {"qwen3": "A2DQwen3LMHeadModel", "qwen2": "A2DQwen2LMHeadModel",
                                    "llama": "A2DLlamaLMHeadModel"}[kind]
    config = json.loads((output / "config.json").read_text())
    ar_config = ar.config.to_dict()
    assert config["model_type"] == f"a2d-{kind}" and config["vocab_size"] == KNOWN + 1
    for key in ("hidden_size", "num_key_value_heads", "rms_norm_eps", "tie_word_embeddings", "rope_parameters"):
        assert config[key] == ar_config[key], key
    with safe_open(output / "model.safetensors", "pt") as weights:
        stored = set(weights.keys())
    assert stored <= set(ar.state_dict())  # the AR model's own names
    assert ("lm_head.weight" in stored) == (not overrides.get("tie_word_embeddings", False))

    tokenizer = load_tokenizer(output)
    assert tokenizer.mask_token == "<|mask|>" and tokenizer.mask_token_id == KNOWN
    assert tokenizer.pad_token == tokenizer.bos_token == EOS  # ZHZisZZ/dllm: pad = EOS, BOS = pad
    special = resolve_special_tokens(model.config, tokenizer, A2D)
    assert (special.mask_token_id, special.bos_token_id, special.pad_token_id) == (KNOWN, 0, 0)

    embed, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    ar_embed, ar_head = ar.get_input_embeddings().weight, ar.get_output_embeddings().weight
    torch.testing.assert_close(embed[:KNOWN], ar_embed, rtol=0, atol=0)
    torch.testing.assert_close(head[:KNOWN], ar_head, rtol=0, atol=0)
    torch.testing.assert_close(embed[KNOWN], ar_embed.mean(0))
    torch.testing.assert_close(head[KNOWN], ar_head.mean(0))

    ids = torch.tensor([tokenizer("the quick brown fox jumps")["input_ids"]])
    with torch.no_grad():
        expected = ar(ids).logits  # [1, L, KNOWN]
        causal = model(ids, attention_mask=causal_mask(ids.shape[1])).logits  # [1, L, KNOWN + 1]
        full = model(ids).logits
    torch.testing.assert_close(causal[..., :KNOWN], expected, rtol=1e-4, atol=1e-5)
    # bidirectional by default: the first positions now see the future and change
    assert not torch.allclose(full[:, 0, :KNOWN], expected[:, 0], atol=1e-3)

    info = json.loads((output / "dllm.json").read_text())
    assert info["family"] == "a2d"
    assert info["generator"]["preset"] == "bd3lm" and info["generator"]["block_size"] == 16
    assert info["objective"] == {"name": "block-diffusion", "block_size": 16}
    assert info["extra"]["source_model_type"] == kind


def test_block_size_defaults_to_the_family_generators(save_ar, tmp_path):
    source, _ = save_ar("qwen2")
    result = convert_from_ar(ConvertRequest(source, tmp_path / "out"))
    info = json.loads((tmp_path / "out" / "dllm.json").read_text())
    assert info["generator"]["block_size"] == A2D.generator_defaults["block_size"] == 32
    assert result.objective == {"name": "block-diffusion", "block_size": 32}
    with pytest.raises(DllmError, match="--block-size must be at least 1"):
        convert_from_ar(ConvertRequest(source, tmp_path / "bad", block_size=0))


def test_non_empty_output_is_refused_unless_overwrite(save_ar, tmp_path):
    source, _ = save_ar("qwen2")
    output = tmp_path / "out"
    output.mkdir()
    (output / "notes.txt").write_text("keep me")
    with pytest.raises(DllmError, match="already exists and is not empty; pass --overwrite"):
        convert_from_ar(ConvertRequest(source, output))
    assert (output / "notes.txt").read_text() == "keep me"
    with pytest.raises(DllmError, match="is the source checkpoint"):
        convert_from_ar(ConvertRequest(source, source, overwrite=True))
    convert_from_ar(ConvertRequest(source, output, overwrite=True))
    assert not (output / "notes.txt").exists() and (output / "dllm.json").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left


def test_unconvertible_sources_are_refused(save_ar, chatml_tokenizer, tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=4, n_positions=64, vocab_size=KNOWN)).save_pretrained(
        tmp_path / "gpt2")
    chatml_tokenizer.save_pretrained(tmp_path / "gpt2")
    refused = "'gpt2' model; --from-ar into the a2d family converts qwen3, qwen2, llama"
    with pytest.raises(DllmError, match=refused) as error:
        convert_from_ar(ConvertRequest(tmp_path / "gpt2", tmp_path / "out"))
    assert "\n" not in str(error.value)  # the CLI prints it as one line
    source, _ = save_ar("qwen2", use_sliding_window=True, sliding_window=4)
    with pytest.raises(DllmError, match="sliding-window"):
        convert_from_ar(ConvertRequest(source, tmp_path / "out"))
    with pytest.raises(DllmError, match="no config.json"):
        convert_from_ar(ConvertRequest(tmp_path / "missing", tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_the_objective_picks_the_target_family():
    assert converter_family(objective="block-diffusion").name == "a2d"
    assert converter_family(family="a2d").name == "a2d"
    assert converter_family().default_objective == "masked-diffusion"  # today's default: Dream
    with pytest.raises(DllmError, match="a2d family converts for its block-diffusion objective, not masked"):
        converter_family(family="a2d", objective="masked-diffusion")
    with pytest.raises(DllmError, match="llada family cannot be converted into"):
        converter_family(family="llada")
    with pytest.raises(DllmError, match="unknown objective 'block-difusion'. Did you mean 'block-diffusion'"):
        converter_family(objective="block-difusion")


def test_dllm_convert_block_diffusion_then_errors_on_one_line(save_ar, tmp_path, capsys):
    source, _ = save_ar("qwen3", tie_word_embeddings=True)
    output = tmp_path / "a2d"
    parser = argparse.ArgumentParser()
    convert_command.add_arguments(parser)
    args = parser.parse_args(["--from-ar", str(source), "--output", str(output), "--objective", "block-diffusion",
                              "--block-size", "8"])
    assert convert_command.run(args) == 0
    printed = capsys.readouterr().out
    assert "family: a2d (model_type a2d-qwen3)" in printed
    assert f"next: dllm train --model {output} --data" in printed  # objective and block size: dllm.json
    assert json.loads((output / "dllm.json").read_text())["generator"]["block_size"] == 8

    again = dllm_cli("convert", "--from-ar", source, "--output", output, "--objective", "block-diffusion")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"dllm: error: --output {output} already exists and is not empty; pass --overwrite to replace it "
        "or choose a new folder"]
