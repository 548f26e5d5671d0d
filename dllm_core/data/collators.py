"""Batch collation: pad tokenized examples to the longest in the batch (on the right).

``input_ids`` are padded with the pad id, ``labels`` (when the examples have them) with -100,
and ``attention_mask`` is 1 on real tokens and 0 on padding (taken from the examples when they
carry one, built otherwise). Optionally the padded length is rounded up to a multiple.

With ``train_on_padding`` (LLaDA's SFT recipe) padding is part of the answer instead: the pad id
(EOS) is written into both ``input_ids`` and ``labels`` and attended to (attention mask 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from dllm_core.data.processing import IGNORE_INDEX
from dllm_core.errors import DllmError


@dataclass
class PaddingCollator:
    """Pads a list of examples into a batch of ``[batch, length]`` long tensors."""

    pad_token_id: int  # id written into padded input_ids
    label_pad_id: int = IGNORE_INDEX  # id written into padded labels
    pad_to_multiple_of: int | None = None  # round the padded length up to a multiple of this
    train_on_padding: bool = False  # padding gets label pad_token_id and attention 1 (LLaDA SFT)

    def __call__(self, examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if not examples:
            raise DllmError("cannot collate an empty batch.")
        lengths = [len(example["input_ids"]) for example in examples]
        length = max(lengths)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        with_labels = "labels" in examples[0]
        batch = {
            "input_ids": torch.full((len(examples), length), self.pad_token_id, dtype=torch.long),
            "attention_mask": torch.full((len(examples), length), int(self.train_on_padding), dtype=torch.long),
        }
        if with_labels:
            label_pad = self.pad_token_id if self.train_on_padding else self.label_pad_id
            batch["labels"] = torch.full((len(examples), length), label_pad, dtype=torch.long)
        for row, (example, size) in enumerate(zip(examples, lengths)):
            batch["input_ids"][row, :size] = torch.as_tensor(example["input_ids"], dtype=torch.long)
            mask = example.get("attention_mask")
            batch["attention_mask"][row, :size] = 1 if mask is None else torch.as_tensor(mask)
            if with_labels:
                if len(example["labels"]) != size:
                    raise DllmError(
                        f"example {row} of the batch has {len(example['labels'])} labels for "
                        f"{size} input_ids; labels must align with input_ids."
                    )
                batch["labels"][row, :size] = torch.as_tensor(example["labels"], dtype=torch.long)
        return batch
