"""``--streaming``: pretraining text packed while training runs, from a local file."""

from __future__ import annotations

import json

import pytest
from scale_runs import dllm

from dllm_core.training.streaming import packed_blocks


class CharTokenizer:
    eos_token_id, bos_token_id = 0, 1

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def test_packed_blocks_carry_text_across_documents():
    documents = [{"text": "abc"}, {"text": "defgh"}, {"text": "ij"}]
    blocks = list(packed_blocks(documents, CharTokenizer(), block_size=4, prepend_bos=False))
    # a b c EOS | d e f g | h EOS i j | (EOS left over, dropped)
    assert [b["input_ids"] for b in blocks] == [[97, 98, 99, 0], [100, 101, 102, 103], [104, 0, 105, 106]]
    with_bos = list(packed_blocks(documents, CharTokenizer(), block_size=4, prepend_bos=True))
    assert with_bos[0] == {"input_ids": [1, 97, 98, 99], "labels": [-100, 97, 98, 99]}


def test_streaming_pretraining_run(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("".join(f"the {n} sudoku grids are filled row by row\n" for n in range(300)))
    output = tmp_path / "pt"
    result = dllm("train", "--family", "llada", "--preset", "tiny", "--mode", "pt", "--streaming",
                  "--data", str(text), "--max-length", "32", "--max-steps", "3", "--batch-size", "4",
                  "--logging-steps", "1", "--no-progress", "--output-dir", str(output))
    assert "train_loss" in result.stdout
    history = json.loads((output / "log_history.json").read_text())
    assert [row["step"] for row in history if "loss" in row] == [1, 2, 3]
    assert (output / "model.safetensors").is_file()


@pytest.mark.parametrize("spec, message", [("sudoku4", "is a task"), ("a.txt[train:5]", "drop train:N")])
def test_streaming_needs_a_whole_file_or_hub_source(spec, message, tmp_path):
    from dllm_core.errors import DllmError
    from dllm_core.training.streaming import open_stream

    (tmp_path / "a.txt").write_text("x\n")
    source = spec if spec == "sudoku4" else str(tmp_path / spec)
    with pytest.raises(DllmError, match=message):
        open_stream(source, seed=0)
