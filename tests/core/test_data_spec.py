"""Dataset spec strings: parsing, every kind of source, disjoint splits, clear errors."""

from __future__ import annotations

import json

import pytest

from dllm_core.data.spec import DatasetSpecError, SpecPart, load_dataset_spec, parse_dataset_spec
from dllm_core.errors import DllmError

ROWS = [{"prompt": f"q{i}", "answer": f"a{i}"} for i in range(30)]


def _pairs(dataset) -> set[tuple[str, str]]:
    return set(zip(dataset["prompt"], dataset["answer"]))


# -- parsing -----------------------------------------------------------------------------------
def test_parse_parts_and_options():
    spec = parse_dataset_spec(
        " sudoku4[train:100,test:10, blanks:8] + data/x.jsonl+org/name[name:cfg,split:dev,seed:3]"
    )
    assert spec.parts == (
        SpecPart("sudoku4", train=100, test=10, extra={"blanks": "8"}),
        SpecPart("data/x.jsonl"),
        SpecPart("org/name", seed=3, name="cfg", split="dev"),
    )
    assert spec.parts[0].describe() == "sudoku4[train:100,test:10,blanks:8]"


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty dataset spec"),
    ("sudoku4[train:10", "unclosed '['"),
    ("sudoku4]train:10[", "unbalanced ']'"),
    ("sudoku4[train:[10]]", "nested '['"),
    ("sudoku4[train:ten]", "option 'train' in part 'sudoku4[train:ten]' must be a non-negative integer"),
    ("sudoku4[test:-1]", "must be a non-negative integer"),
    ("sudoku4[train]", "is not 'key:value'"),
    ("sudoku4[train:1,train:2]", "option 'train' is given twice"),
    ("sudoku4[train:1]x", "unexpected 'x' after ']'"),
    ("sudoku4++addition", "empty part"),
    ("[train:1]", "has no source"),
])
def test_malformed_specs_raise_one_clear_error(spec, message):
    with pytest.raises(DatasetSpecError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_dataset_spec(spec)


@pytest.mark.parametrize(("spec", "message"), [
    ("sudoko4[train:10]", "unknown task 'sudoko4'. Did you mean 'sudoku4'?"),
    ("countdwn", "Did you mean 'countdown'?"),
    ("sudoku4[blank:8]", "unknown option 'blank' for task 'sudoku4'. Did you mean 'blanks'?"),
    ("sudoku4[blanks:many]", "option 'blanks' of part 'sudoku4[blanks:many]' must be a int"),
    ("sudoku4[blanks:20]", "blanks must be between 1 and 12"),
    ("sudoku4[split:train]", "option 'split' does not apply to 'sudoku4', which is a task"),
    ("missing/file.jsonl", "file or folder 'missing/file.jsonl' does not exist"),
    ("./nowhere", "does not exist"),
])
def test_bad_sources_and_options_raise_one_clear_error(spec, message):
    with pytest.raises(DllmError) as caught:
        load_dataset_spec(spec)
    assert message in str(caught.value)


def test_file_options_are_checked(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in ROWS))
    with pytest.raises(DatasetSpecError, match="option 'name' does not apply .* which is a local file"):
        load_dataset_spec(f"{path}[name:x]")
    with pytest.raises(DatasetSpecError, match="unknown option.s. colour .* takes only train, test, seed"):
        load_dataset_spec(f"{path}[colour:red]")
    (tmp_path / "notes.md").write_text("hi")
    with pytest.raises(DatasetSpecError, match="unsupported type '.md'"):
        load_dataset_spec(str(tmp_path / "notes.md"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(DatasetSpecError, match="not written by datasets' save_to_disk"):
        load_dataset_spec(str(tmp_path / "plain"))


def test_offline_hub_dataset_names_the_dataset_and_the_offline_setting(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DatasetSpecError) as caught:
        load_dataset_spec("no-such-org/no-such-dataset[train:5]")
    message = str(caught.value)
    assert "'no-such-org/no-such-dataset'" in message and "offline" in message
    assert "HF_DATASETS_OFFLINE" in message and "sudoku4" in message


# -- tasks -------------------------------------------------------------------------------------
def test_task_spec_generates_disjoint_splits_with_its_settings():
    data = load_dataset_spec("sudoku4[train:300,test:40,blanks:6,seed:2]")
    assert (len(data["train"]), len(data["test"])) == (300, 40)
    assert all(prompt.count("0") == 6 for prompt in data["train"]["prompt"])
    assert not set(data["train"]["prompt"]) & set(data["test"]["prompt"])
    assert load_dataset_spec("sudoku4[train:300,test:40,blanks:6,seed:2]")["train"]["prompt"] == \
        data["train"]["prompt"]


def test_parts_are_concatenated_and_test_zero_means_none():
    data = load_dataset_spec("addition[train:20,test:5]+countdown[train:10,test:0]")
    assert (len(data["train"]), len(data["test"])) == (30, 5)
    assert data["train"].column_names == ["prompt", "answer"]
    only_train = load_dataset_spec("addition[train:5,test:0]")
    assert list(only_train) == ["train"]


# -- local files and folders -------------------------------------------------------------------
def _write(tmp_path, kind: str):
    import datasets

    table = datasets.Dataset.from_list(ROWS)
    path = tmp_path / f"rows.{kind}"
    if kind == "json":
        path.write_text(json.dumps(ROWS))
    elif kind == "jsonl":
        path.write_text("\n".join(json.dumps(row) for row in ROWS) + "\n")
    elif kind == "csv":
        table.to_csv(str(path), index=False)
    elif kind == "parquet":
        table.to_parquet(str(path))
    else:
        table.save_to_disk(str(tmp_path / "saved"))
        return tmp_path / "saved"
    return path


@pytest.mark.parametrize("kind", ["json", "jsonl", "csv", "parquet", "saved"])
def test_local_sources_load_every_row(tmp_path, kind):
    data = load_dataset_spec(str(_write(tmp_path, kind)))
    assert list(data) == ["train"]
    assert _pairs(data["train"]) == {(r["prompt"], r["answer"]) for r in ROWS}


def test_text_files_give_one_row_per_line(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("first line\nsecond line\nthird line\n")
    data = load_dataset_spec(f"{path}[train:2]")
    assert data["train"].column_names == ["text"] and len(data["train"]) == 2
    assert set(data["train"]["text"]) <= {"first line", "second line", "third line"}


@pytest.mark.parametrize("kind", ["jsonl", "csv", "saved"])
def test_single_split_sources_carve_a_disjoint_test_split(tmp_path, kind):
    data = load_dataset_spec(f"{_write(tmp_path, kind)}[train:20,test:10,seed:4]")
    train, test = _pairs(data["train"]), _pairs(data["test"])
    assert (len(train), len(test)) == (20, 10) and not train & test
    everything = load_dataset_spec(f"{_write(tmp_path, kind)}[test:10,seed:4]")
    assert len(everything["train"]) == 20 and _pairs(everything["test"]) == test


def test_repeated_rows_never_cross_the_carved_split(tmp_path):
    path = tmp_path / "repeats.jsonl"
    rows = [{"text": f"doc {i % 5}"} for i in range(50)]  # every row appears 10 times
    path.write_text("\n".join(json.dumps(row) for row in rows))
    data = load_dataset_spec(f"{path}[test:3]")
    test = set(data["test"]["text"])
    assert test and not test & set(data["train"]["text"])
    assert len(data["train"]) == 50 - 10 * len(test)  # every copy of a test row left train
    with pytest.raises(DatasetSpecError, match="only .* rows of the source are left"):
        load_dataset_spec(f"{path}[train:45,test:3]")


def test_saved_dataset_dict_uses_its_own_test_split(tmp_path):
    import datasets

    folder = tmp_path / "dict"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_list(ROWS[:20]),
        "test": datasets.Dataset.from_list(ROWS[20:]),
    }).save_to_disk(str(folder))
    data = load_dataset_spec(f"{folder}[train:5]")
    assert len(data["train"]) == 5 and _pairs(data["test"]) == _pairs(datasets.Dataset.from_list(ROWS[20:]))
    only_test = load_dataset_spec(f"{folder}[split:test,test:4]")
    assert (len(only_test["train"]), len(only_test["test"])) == (6, 4)
    with pytest.raises(DatasetSpecError, match="has no split 'dev'; its splits are \\['test', 'train'\\]"):
        load_dataset_spec(f"{folder}[split:dev]")
    with pytest.raises(DatasetSpecError, match="asks for 50 train rows .* has only 20"):
        load_dataset_spec(f"{folder}[train:50]")


def test_mixed_columns_cannot_be_concatenated(tmp_path):
    path = tmp_path / "text.jsonl"
    path.write_text(json.dumps({"text": "hello"}))
    with pytest.raises(DatasetSpecError, match="columns differ"):
        load_dataset_spec(f"addition[train:3,test:0]+{path}")
