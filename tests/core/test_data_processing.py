"""SFT tokenization with label masks, PT packing, and bad records."""

from __future__ import annotations

import pytest

from dllm_core.data.processing import (
    IGNORE_INDEX,
    PTConfig,
    SFTConfig,
    chat_segments,
    pack_pretraining,
    tokenize_sft,
)
from dllm_core.data.records import BadRecordError
from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_core.errors import DllmError


@pytest.fixture(scope="module")
def tokenizer():
    return build_char_tokenizer()


def _labelled_text(tokenizer, example) -> str:
    return tokenizer.decode([label for label in example["labels"] if label != IGNORE_INDEX])


def test_prompt_answer_records_label_only_the_answer_and_eos(tokenizer):
    data, stats = tokenize_sft([{"prompt": "12+30=", "answer": "42"}], tokenizer)
    example = data[0]
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "12+30="}], tokenize=True,
                                           add_generation_prompt=True, return_dict=False)
    n = len(prompt)
    assert example["input_ids"][:n] == list(prompt)  # exactly the inference-time prompt
    assert example["labels"][:n] == [IGNORE_INDEX] * n
    assert example["labels"][n:] == example["input_ids"][n:]
    assert _labelled_text(tokenizer, example) == "42<|endoftext|>"
    assert example["input_ids"][-1] == tokenizer.eos_token_id
    assert (stats.records, stats.examples) == (1, 1)


def test_every_assistant_turn_of_a_conversation_is_labelled(tokenizer):
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "u2"},
        {"role": "assistant", "content": "A2"},
    ]
    data, _ = tokenize_sft([{"messages": messages}], tokenizer)
    example = data[0]
    assert tokenizer.decode(example["input_ids"]) == tokenizer.apply_chat_template(messages, tokenize=False)
    assert _labelled_text(tokenizer, example) == "A1<|endoftext|>A2<|endoftext|>"
    labelled = [i for i, label in enumerate(example["labels"]) if label != IGNORE_INDEX]
    text = [tokenizer.decode([example["input_ids"][i]]) for i in labelled]
    assert text == ["A", "1", "<|endoftext|>", "A", "2", "<|endoftext|>"]


def test_eos_is_appended_when_the_template_does_not_end_with_it(tokenizer):
    plain = build_char_tokenizer()
    plain.chat_template = "{% for m in messages %}{{ m['role'][0] + ':' + m['content'] }}{% endfor %}" \
                          "{% if add_generation_prompt %}a:{% endif %}"
    data, _ = tokenize_sft([{"prompt": "x", "answer": "yz"}], plain)
    assert plain.decode(data[0]["input_ids"]) == "u:xa:yz<|endoftext|>"
    assert _labelled_text(plain, data[0]) == "yz<|endoftext|>"
    data, _ = tokenize_sft([{"prompt": "x", "answer": "yz"}], plain, SFTConfig(add_eos=False))
    assert plain.decode(data[0]["input_ids"]) == "u:xa:yz"


def test_truncation_right_cuts_and_drop_removes(tokenizer):
    records = [{"prompt": "1", "answer": "2"}, {"prompt": "1", "answer": "2" * 30},
               {"prompt": "9" * 30, "answer": "8"}]  # the last one loses its answer to truncation
    data, stats = tokenize_sft(records, tokenizer, SFTConfig(max_length=12, truncation="right"))
    assert [len(ids) for ids in data["input_ids"]] == [7, 12]  # bos user 1 eos assistant 2 eos
    assert (stats.truncated, stats.dropped_unlabelled, stats.examples) == (2, 1, 2)
    data, stats = tokenize_sft(records, tokenizer, SFTConfig(max_length=12, truncation="drop"))
    assert [len(ids) for ids in data["input_ids"]] == [7]
    assert (stats.dropped_too_long, stats.examples) == (2, 1)


@pytest.mark.parametrize(("record", "problem"), [
    ({"messages": []}, "empty or non-list 'messages'"),
    ({"messages": [{"role": "bot", "content": "hi"}, {"role": "assistant", "content": "x"}]}, "role 'bot'"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "does not end with an assistant turn"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "s"},
                   {"role": "assistant", "content": "x"}]}, "only the first turn"),
    ({"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]}, "no string 'content'"),
    ({"prompt": "only a prompt"}, "field 'answer' must be a string"),
    ({"question": "q"}, "has neither 'messages' nor 'prompt'/'answer'"),
    ("just text", "is a str, not a mapping"),
])
def test_bad_records_raise_with_their_index_or_are_skipped(tokenizer, record, problem):
    good = {"prompt": "1+1=", "answer": "2"}
    with pytest.raises(BadRecordError) as caught:
        tokenize_sft([good, good, record], tokenizer)
    assert str(caught.value).startswith("record 2 ") and problem in str(caught.value)
    assert "on_bad_record='skip'" in str(caught.value)
    data, stats = tokenize_sft([good, record, good], tokenizer, SFTConfig(on_bad_record="skip"))
    assert (len(data), stats.records, stats.skipped_bad) == (2, 3, 1)


def test_templates_that_rewrite_earlier_turns_are_refused(tokenizer):
    odd = build_char_tokenizer()
    odd.chat_template = "{{ messages | length }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
    with pytest.raises(DllmError, match="record 0: the chat template does not render"):
        tokenize_sft([{"prompt": "a", "answer": "b"}], odd)
    assert chat_segments([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
                         tokenizer) == [("<|bos|><|user|>a<|endoftext|><|assistant|>", False),
                                        ("b<|endoftext|>", True)]


def test_sft_needs_a_chat_template(tokenizer):
    bare = build_char_tokenizer()
    bare.chat_template = None
    with pytest.raises(DllmError, match="no chat template"):
        tokenize_sft([{"prompt": "a", "answer": "b"}], bare)


def test_pretraining_packs_documents_with_eos_between_them(tokenizer):
    docs = [{"text": "abc"}, {"text": "de"}, {"text": "fghij"}]  # 3+1 + 2+1 + 5+1 = 13 tokens
    data, stats = pack_pretraining(docs, tokenizer, PTConfig(block_size=4))
    assert len(data) == 3 and stats.examples == 3  # the 13th token is dropped
    eos = "<|endoftext|>"
    assert [tokenizer.decode(ids) for ids in data["input_ids"]] == [f"abc{eos}", f"de{eos}f", "ghij"]
    assert data["labels"] == data["input_ids"]


def test_pretraining_bad_records(tokenizer):
    docs = [{"text": "abc"}, {"body": "x"}, {"text": "de"}]
    with pytest.raises(BadRecordError, match="record 1 has no string field 'text'"):
        pack_pretraining(docs, tokenizer, PTConfig(block_size=2))
    data, stats = pack_pretraining(docs, tokenizer, PTConfig(block_size=2, on_bad_record="skip"))
    assert stats.skipped_bad == 1 and len(data) == 3
    data, _ = pack_pretraining([{"body": "xy"}], tokenizer, PTConfig(block_size=3, text_field="body"))
    assert tokenizer.decode(data[0]["input_ids"]) == "xy<|endoftext|>"


def test_task_records_flow_through_sft(tokenizer):
    from dllm_core.data.tasks.sudoku import Sudoku4Task

    records = Sudoku4Task().generate(50)
    data, stats = tokenize_sft(records, tokenizer, SFTConfig(max_length=64))
    assert stats.examples == 50 and stats.truncated == 0
    for record, example in zip(records, data):
        assert _labelled_text(tokenizer, example) == record["answer"] + "<|endoftext|>"
