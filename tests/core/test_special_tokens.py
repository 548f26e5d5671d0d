"""Special-token resolution: config first, then tokenizer, then the family's token strings."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dllm_core.family import ModelFamily
from dllm_core.errors import DllmError
from dllm_core.special_tokens import resolve_special_tokens


class FakeTokenizer(SimpleNamespace):
    def get_vocab(self):
        return self.vocab


FAMILY = ModelFamily(name="fam", model_types=("fam",),
                     special_tokens={"mask": "<|mdm_mask|>", "eot": "<|eot_id|>", "eos": "<|endoftext|>"})


def test_config_wins_over_tokenizer_and_family():
    config = SimpleNamespace(mask_token_id=7, eos_token_id=[3, 4])
    tokenizer = FakeTokenizer(mask_token_id=9, eos_token_id=5, vocab={"<|mdm_mask|>": 11, "<|eot_id|>": 12})
    tokens = resolve_special_tokens(config, tokenizer, FAMILY)
    assert (tokens.mask_token_id, tokens.eos_token_id, tokens.eot_token_id) == (7, 3, 12)
    assert tokens.pad_token_id == 3  # falls back to EOS
    assert tokens.stop_token_ids() == [3, 12]


def test_family_token_strings_fill_gaps():
    tokenizer = FakeTokenizer(vocab={"<|mdm_mask|>": 11, "<|endoftext|>": 2})
    tokens = resolve_special_tokens(SimpleNamespace(), tokenizer, FAMILY)
    assert (tokens.mask_token_id, tokens.eos_token_id) == (11, 2)


def test_missing_mask_token_is_a_clear_error():
    with pytest.raises(DllmError, match=r"no mask token.*'<\|mdm_mask\|>'.*Fix: set mask_token_id"):
        resolve_special_tokens(SimpleNamespace(), FakeTokenizer(vocab={}), FAMILY, source="ckpt")
