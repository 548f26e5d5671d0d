"""The BERT-chat tokenizer adapter: the tokenizer's own [MASK], a chat template of vocabulary
tokens ending answers with [SEP], and the char tokenizer's CLS/SEP for the tiny preset."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from dllm_bertchat.chat_template import CHAT_TEMPLATE
from dllm_bertchat.family import BERTCHAT
from dllm_core.data.processing import IGNORE_INDEX, tokenize_sft
from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_core.errors import DllmError
from dllm_core.special_tokens import adapt_tokenizer, resolve_special_tokens

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "system", "user", "assistant", ":", "?", "what",
         "is", "1", "2", "3", "+"]


def wordpiece_tokenizer(words: list[str] = WORDS) -> PreTrainedTokenizerFast:
    """A BERT-style WordPiece tokenizer with no chat template and no EOS, as BERT ships."""
    backend = Tokenizer(models.WordPiece({word: index for index, word in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def test_bert_tokenizer_gets_the_template_and_sep_as_end_of_answer():
    tokenizer = adapt_tokenizer(wordpiece_tokenizer(), BERTCHAT)
    assert tokenizer.chat_template == CHAT_TEMPLATE and tokenizer.eos_token == "[SEP]"
    messages = [{"role": "user", "content": "what is 1+2?"}, {"role": "assistant", "content": "3"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text == "[CLS]user: what is 1+2?[SEP]assistant: 3[SEP]"
    prompt = tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    assert prompt == "[CLS]user: what is 1+2?[SEP]assistant:"
    special = resolve_special_tokens(object(), tokenizer, BERTCHAT)
    assert special.mask_token_id == WORDS.index("[MASK]")
    assert special.stop_token_ids() == [WORDS.index("[SEP]")]


def test_sft_labels_only_the_answer_and_its_sep():
    tokenizer = adapt_tokenizer(wordpiece_tokenizer(), BERTCHAT)
    dataset, _ = tokenize_sft([{"prompt": "what is 1+2?", "answer": "3"}], tokenizer)
    row = dataset[0]
    tokens = tokenizer.convert_ids_to_tokens(row["input_ids"])
    assert tokens == ["[CLS]", "user", ":", "what", "is", "1", "+", "2", "?", "[SEP]", "assistant", ":", "3", "[SEP]"]
    labelled = [token for token, label in zip(tokens, row["labels"]) if label != IGNORE_INDEX]
    assert labelled == ["3", "[SEP]"]


def test_role_word_missing_from_the_vocabulary_is_a_clear_error():
    with pytest.raises(DllmError, match="cannot spell the chat role marker 'assistant:'"):
        adapt_tokenizer(wordpiece_tokenizer([w for w in WORDS if w != "assistant"]), BERTCHAT)


def test_char_tokenizer_keeps_its_template_and_names_bos_eos_as_cls_sep():
    tokenizer = adapt_tokenizer(build_char_tokenizer(), BERTCHAT)
    assert tokenizer.chat_template != CHAT_TEMPLATE
    assert (tokenizer.cls_token, tokenizer.sep_token) == (tokenizer.bos_token, tokenizer.eos_token)
    assert tokenizer.mask_token == "<|mdm_mask|>"
