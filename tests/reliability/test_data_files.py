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
    assert failed.code == 2 and f"{data} line 1 has no field 'text' (its fields: body)" in failed.one_error
    assert "--text-field NAME" in failed.one_error


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


# -- sources read through datasets: rows named where they stand in the source, before shuffling ---
ROWS = [{"prompt": f"what is {n}+1", "answer": str(n + 1)} for n in range(12)]


def _bad_rows(bad: int, record: dict) -> list[dict]:
    rows = [dict(row) for row in ROWS]
    rows[bad] = record
    return rows


def _parquet(tmp_path, rows) -> str:
    import datasets

    path = tmp_path / "rows.parquet"
    datasets.Dataset.from_list(rows).to_parquet(str(path))
    return str(path)


def _saved(tmp_path, rows) -> str:
    import datasets

    folder = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows),
                          "test": datasets.Dataset.from_list(ROWS[:3])}).save_to_disk(str(folder))
    return str(folder)


@pytest.mark.parametrize("write, options, where", [
    (_parquet, "[test:3,seed:5]", "row 7"),
    (_saved, "", "split 'train' row 7"),
    (_saved, "[train:11,seed:3]", "split 'train' row 7"),
], ids=["parquet-carved", "saved-all-rows", "saved-drawn"])
def test_a_bad_row_is_named_by_its_place_in_the_source(tmp_path, write, options, where):
    source = write(tmp_path, _bad_rows(7, {"prompt": "what is 7+1", "answer": None}))
    with pytest.raises(BadRecordError) as caught:
        load_dataset_spec(f"{source}{options}", RecordRules(mode="sft"))
    message = str(caught.value)
    assert message.startswith(f"{source} {where} field 'answer' must be a string, got NoneType")
    assert "--on-bad-record skip" in message and "\n" not in message


def test_bad_rows_of_a_source_can_be_skipped_and_the_draw_stays_full(tmp_path):
    source = _parquet(tmp_path, _bad_rows(7, {"prompt": "what is 7+1", "answer": None}))
    rows = load_dataset_spec(f"{source}[train:11,seed:3]", RecordRules(on_bad_record="skip"))["train"]
    assert len(rows) == 11 and None not in rows["answer"]  # the other 11 rows, none of them the bad one


def test_a_record_of_the_wrong_kind_for_the_mode_is_named_with_the_fix(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("first note\n\nthird note\n")
    with pytest.raises(BadRecordError, match=f"{text} line 1 has neither 'messages' nor 'prompt'/'answer'"):
        load_dataset_spec(str(text), RecordRules(mode="sft"))
    assert load_dataset_spec(str(text), RecordRules(mode="pt"))["train"]["text"] == ["first note", "", "third note"]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "a", "answer": "b"}\n')
    with pytest.raises(BadRecordError, match="line 1 has no field 'text'") as caught:
        load_dataset_spec(str(pairs), RecordRules(mode="pt"))
    assert "--text-field NAME (conversations train with --mode sft)" in str(caught.value)


# -- --streaming --------------------------------------------------------------------------------
class CharTokenizer:
    eos_token_id, bos_token_id = 0, 1

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def _documents(path: Path, bad: int | None = None) -> Path:
    records = [{"body": f"document number {n}"} for n in range(40)]
    if bad is not None:
        records[bad] = {"title": "no body"}
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def test_a_streamed_bad_record_is_named_by_its_row_before_the_shuffle(tmp_path):
    from dllm_core.training.streaming import open_stream, packed_blocks

    data = _documents(tmp_path / "docs.jsonl", bad=5)
    stream = open_stream(str(data), seed=0)
    assert [row["body"] for row in stream][:3] != ["document number 0", "document number 1", "document number 2"]
    rules = RecordRules(text_field="body", mode="pt")
    with pytest.raises(BadRecordError, match=f"^{data} row 5 field 'body' must be a string, got NoneType"):
        list(packed_blocks(stream, CharTokenizer(), 8, False, rules, source=str(data)))
    skipped = list(packed_blocks(stream, CharTokenizer(), 8, False, RecordRules("body", "skip", "pt"), str(data)))
    tokens = sum(len(block["input_ids"]) for block in skipped)
    assert tokens == 8 * ((sum(len(f"document number {n}") + 1 for n in range(40) if n != 5)) // 8)


def test_streaming_trains_on_the_text_field(tmp_path, train):
    data = _documents(tmp_path / "docs.jsonl")
    result = train(tmp_path / "run", "--mode", "pt", "--streaming", "--data", data, "--text-field", "body",
                   "--max-length", "32", "--max-steps", "2")
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "run" / "log_history.json").read_text())[0]["step"] == 1
