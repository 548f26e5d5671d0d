"""The character-level tokenizer of the tiny presets."""

from __future__ import annotations

import pytest

from dllm_core.data.tokenizer import CHARACTERS, SPECIAL_TOKENS, build_char_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return build_char_tokenizer()


def test_every_character_is_one_token_and_decodes_back(tokenizer):
    text = "1203\n0000\nHello, world! (a+b)*c=42\t~"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text)
    assert tokenizer.decode(ids) == text
    digits = tokenizer.convert_tokens_to_ids(list("0123456789"))
    assert len(set(digits)) == 10 and tokenizer.unk_token_id not in digits
    assert len(tokenizer) == len(SPECIAL_TOKENS) + len(CHARACTERS)


def test_special_tokens_and_unknown_characters(tokenizer):
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id,
            tokenizer.mask_token_id) == (0, 1, 2, 3)
    assert tokenizer.mask_token == "<|mdm_mask|>" and tokenizer.eos_token == "<|endoftext|>"
    ids = tokenizer("7<|mdm_mask|>é<|endoftext|>", add_special_tokens=False)["input_ids"]
    assert ids[1:] == [tokenizer.mask_token_id, tokenizer.unk_token_id, tokenizer.eos_token_id]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "7"


def test_chat_template_renders_turns_and_generation_prompt(tokenizer):
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "1+1="},
                {"role": "assistant", "content": "2"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == (
        "<|bos|><|system|>be brief<|endoftext|><|user|>1+1=<|endoftext|><|assistant|>2<|endoftext|>"
    )
    prompt = tokenizer.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|user|>1+1=<|endoftext|><|assistant|>")


def test_save_and_load_round_trip(tokenizer, tmp_path):
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "0123\n4567 abc <|mdm_mask|>"
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert loaded.decode(loaded(text)["input_ids"]) == text
    for attribute in ("pad_token_id", "eos_token_id", "bos_token_id", "mask_token_id", "unk_token_id"):
        assert getattr(loaded, attribute) == getattr(tokenizer, attribute)
    messages = [{"role": "user", "content": "hi"}]
    assert loaded.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == \
        tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert loaded.get_vocab() == tokenizer.get_vocab()
