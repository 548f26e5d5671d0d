"""Issue 25, item 7: data files are read as text, and a bad record is named where it stands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dllm_core.data.records import BadRecordError, RecordRules
from dllm_core.data.spec import DatasetSpecError, load_dataset_spec

EXAMPLES = Path(__file__).parents[2] / "examples" / "data"


def test_numeric_csv_answers_stay_text_and_train(train, tmp_path):
    data = tmp_path / "sums.csv"
    data.write_text('prompt,answer\nwhat is 100+46,146\n"a, quoted prompt",007\nwhat is 1.50+0,1.50\n')
    rows = load_dataset_spec(str(data))["train"]
    assert rows["answer"] == ["146", "007", "1.50"] and rows["prompt"][1] == "a, quoted prompt"
    trained = train(tmp_path / "run", "--data", data, "--max-steps", "1", "--batch-size", "2")
    assert trained.code == 0
    assert f"next: dllm sample {tmp_path / 'run'} --chat --prompt" in trained.out  # an SFT model answers chats


def test_one_numeric_jsonl_record_changes_no_other_record(tmp_path):
    data = tmp_path / "mixed.jsonl"
    data.write_text('{"prompt": "a", "answer": "0012"}\n\n{"prompt": "b", "answer": 7}\n{"prompt": "c", "answer": 2.50}\n')
    assert load_dataset_spec(str(data))["train"]["answer"] == ["0012", "7", "2.50"]


@pytest.mark.parametrize("content, where, words", [
    ('{"prompt": "a", "answer": "1"}\n{"prompt": "b", "answer": ["x"]}\n', "line 2",
     "field 'answer' must be a string, got list"),
    ('{"prompt": "a", "answer": "1"}\n\n{"prompt": "b", "answer": null}\n', "line 3",
     "field 'answer' must be a string, got NoneType"),
    ('{"prompt": "a", "answer": "1"}\n{"prompt": "b", "answer": "2"\n', "line 2", "is not valid JSON"),
    ('{"body": "a document"}\n', "line 1", "--text-field NAME"),
    ('{"messages": [{"role": "user", "content": "hi"}]}\n', "line 1", "does not end with an assistant turn"),
], ids=["list-answer", "null-answer", "broken-json", "no-known-field", "no-assistant"])
def test_a_bad_record_names_file_line_and_field(tmp_path, content, where, words):
    data = tmp_path / "data.jsonl"
    data.write_text(content)
    with pytest.raises((BadRecordError, DatasetSpecError)) as caught:
        load_dataset_spec(f"{data}[train:1,test:1]")  # rows are shuffled after reading: lines stay the file's
    message = str(caught.value)
    assert f"{data} {where}" in message and words in message and "\n" not in message


def test_bad_records_can_be_skipped_and_the_text_field_named(tmp_path, dllm):
    data = tmp_path / "docs.jsonl"
    data.write_text('{"body": "first document"}\n{"body": 3}\n{"title": "no body"}\n{"body": "second"}\n')
    rules = RecordRules(text_field="body", on_bad_record="skip")
    rows = load_dataset_spec(str(data), rules)["train"]
    assert rows["body"] == ["first document", "3", "second"]  # "3" is text; the record without body is skipped
    failed = dllm("train", "--family", "llada", "--preset", "tiny", "--mode", "pt", "--data", data,
                  "--max-steps", "1", "--output-dir", tmp_path / "run")
    assert failed.code == 2 and f"{data} line 1 has none of the fields" in failed.one_error


@pytest.mark.parametrize("name, mode", [("prompt_answer.jsonl", "sft"), ("prompt_answer.csv", "sft"),
                                        ("messages.jsonl", "sft"), ("text.jsonl", "pt")])
def test_the_documented_example_files_load(name, mode):
    rows = load_dataset_spec(str(EXAMPLES / name))["train"]
    assert len(rows) >= 2
    fields = set(rows.column_names)
    assert fields >= ({"text"} if mode == "pt" else {"messages"} if "messages" in name else {"prompt", "answer"})


def test_the_edit_flows_example_holds_prompt_answer_pairs():
    lines = (EXAMPLES / "edits.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert records and all(isinstance(r["prompt"], str) and isinstance(r["answer"], str) for r in records)
