"""The bundled ``bertchat-qa`` set: questions over the built-in tasks, usable as a dataset spec."""

from __future__ import annotations

import pytest

from dllm_bertchat.chat_data import BertChatQATask
from dllm_core.data.spec import load_dataset_spec
from dllm_core.errors import DllmError


def test_spec_loads_disjoint_splits_of_checkable_questions():
    splits = load_dataset_spec("bertchat-qa[train:300,test:40]")
    assert (len(splits["train"]), len(splits["test"])) == (300, 40)
    assert not set(splits["train"]["prompt"]) & set(splits["test"]["prompt"])
    task = BertChatQATask()
    prompts = splits["train"]["prompt"]
    for opening in ("What is ", "Reach the target with + - * /: ", "Solve this sudoku (0 is blank):\n"):
        assert any(prompt.startswith(opening) for prompt in prompts), opening
    assert all(task.check(r["prompt"], r["answer"]) for r in splits["test"])


def test_addition_questions_read_naturally_and_check_any_right_sum():
    task = BertChatQATask(kinds="addition")
    record = task.generate(1, seed=3)[0]
    assert record["prompt"].startswith("What is ") and record["prompt"].endswith("?")
    assert "=" not in record["prompt"]
    assert task.check("What is 123+456?", " 579 ") and not task.check("What is 123+456?", "578")
    assert BertChatQATask.messages(record)[0] == {"role": "user", "content": record["prompt"]}


def test_kinds_option_and_its_mistakes():
    splits = load_dataset_spec("bertchat-qa[train:20,test:0,kinds:countdown+sudoku4]")
    assert not any(prompt.startswith("What is") for prompt in splits["train"]["prompt"])
    with pytest.raises(DllmError, match="kinds must name some of addition, countdown, sudoku4"):
        BertChatQATask(kinds="addition+chess")
    with pytest.raises(DllmError, match="not one of this set's questions"):
        BertChatQATask(kinds="addition").check("Solve this sudoku (0 is blank):\n1234", "1234")
