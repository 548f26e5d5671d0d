"""Padding collator."""

from __future__ import annotations

import pytest
import torch

from dllm_core.data.collators import PaddingCollator
from dllm_core.errors import DllmError


def test_pads_to_the_longest_with_pad_labels_and_mask():
    batch = PaddingCollator(pad_token_id=7)([
        {"input_ids": [1, 2, 3], "labels": [-100, 2, 3]},
        {"input_ids": [4], "labels": [4]},
    ])
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 7, 7]]
    assert batch["labels"].tolist() == [[-100, 2, 3], [4, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert all(tensor.dtype == torch.long for tensor in batch.values())


def test_pads_to_a_multiple_and_keeps_given_attention_masks():
    batch = PaddingCollator(pad_token_id=0, pad_to_multiple_of=4)([
        {"input_ids": [5, 6, 7, 8, 9], "attention_mask": [1, 1, 1, 1, 0]},
        {"input_ids": [5, 6]},
    ])
    assert batch["input_ids"].shape == (2, 8) and "labels" not in batch
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]]


def test_misaligned_labels_and_empty_batches_are_errors():
    collate = PaddingCollator(pad_token_id=0)
    with pytest.raises(DllmError, match="example 1 of the batch has 1 labels for 2 input_ids"):
        collate([{"input_ids": [1], "labels": [1]}, {"input_ids": [1, 2], "labels": [2]}])
    with pytest.raises(DllmError, match="empty batch"):
        collate([])


def test_training_on_padding_pads_answers_with_attended_eos_labels():
    batch = PaddingCollator(pad_token_id=1, train_on_padding=True)([
        {"input_ids": [5, 6, 7, 1], "labels": [-100, -100, 7, 1]},
        {"input_ids": [5, 8, 1], "labels": [-100, 8, 1]},
    ])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 1], [5, 8, 1, 1]]
    assert batch["labels"].tolist() == [[-100, -100, 7, 1], [-100, 8, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 1]]
