"""Tiny autoregressive checkpoints as Qwen/Llama ship them, for the A2D converter's tests.

The tokenizer is character-level with Qwen's ChatML specials: ``<|endoftext|>`` is EOS, and there
is no BOS, pad or mask token (the converter must add or name them as ZHZisZZ/dllm does).
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Callable

import pytest

EOS = "<|endoftext|>"
SPECIALS = (EOS, "<|im_start|>", "<|im_end|>")
#: tokens the source tokenizer knows: the specials, 26 letters and the space
KNOWN = len(SPECIALS) + 27
SHAPE = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6)


def make_chatml_tokenizer():
    """A character tokenizer with ChatML specials and EOS only."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate((*SPECIALS, *string.ascii_lowercase, " "))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=EOS))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIALS])
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS)


def random_ar_model(kind: str, extra_rows: int = 0, **overrides):
    """A random ``kind`` ("qwen3", "qwen2", "llama") causal LM over :func:`chatml_tokenizer`, with
    non-trivial norm weights and biases so that copying them is really tested."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

    classes = {"qwen3": (Qwen3Config, Qwen3ForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM),
               "llama": (LlamaConfig, LlamaForCausalLM)}
    config_class, model_class = classes[kind]
    own = {"head_dim": 16} if kind == "qwen3" else {}  # Qwen3: head size != hidden_size / heads
    values = {**SHAPE, **own, "tie_word_embeddings": False, **overrides}
    config = config_class(**values, vocab_size=KNOWN + extra_rows, eos_token_id=0)
    torch.manual_seed(0)
    model = model_class(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0, 0.1)
            elif "norm" in name:
                parameter.uniform_(0.5, 1.5)
    return model


@pytest.fixture
def save_ar(tmp_path: Path) -> Callable[..., tuple[Path, object]]:
    """``save_ar(kind, extra_rows=0, **config overrides) -> (folder, model)``: a random AR
    checkpoint saved with safetensors and its tokenizer under ``tmp_path/kind``."""

    def save(kind: str, extra_rows: int = 0, folder: str | None = None, **overrides):
        model = random_ar_model(kind, extra_rows, **overrides)
        path = tmp_path / (folder or kind)
        model.save_pretrained(path, safe_serialization=True)
        make_chatml_tokenizer().save_pretrained(path)
        return path, model

    return save


@pytest.fixture
def chatml_tokenizer():
    """A fresh :func:`make_chatml_tokenizer` (``len(tokenizer) == KNOWN``)."""
    tokenizer = make_chatml_tokenizer()
    assert len(tokenizer) == KNOWN
    return tokenizer
