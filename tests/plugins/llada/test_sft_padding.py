"""LLaDA's SFT recipe pads shorter answers with EOS that is attended to and trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from dllm_core.errors import DllmError
from dllm_core.registry import get_registry
from dllm_core.special_tokens import SpecialTokens
from dllm_core.training.run import build_collator
from dllm_core.training.run_config import TrainRunConfig

SPECIAL = SpecialTokens(mask_token_id=3, eos_token_id=1, pad_token_id=0, bos_token_id=2)
EXAMPLES = [{"input_ids": [5, 6, 1], "labels": [-100, 6, 1]}, {"input_ids": [5, 1], "labels": [-100, 1]}]


def collate(**options):
    config = TrainRunConfig(data="sudoku4", output_dir=Path("unused"), **options)
    return build_collator(config, get_registry().families.get("llada"), SPECIAL)(EXAMPLES)


def test_llada_sft_pads_with_trained_eos_by_default():
    batch = collate()
    assert batch["input_ids"][1].tolist() == [5, 1, 1]
    assert batch["labels"][1].tolist() == [-100, 1, 1]
    assert batch["attention_mask"][1].tolist() == [1, 1, 1]


@pytest.mark.parametrize("options", [{"sft_padding": "ignore"}, {"mode": "pt"}])
def test_ignored_padding_when_asked_or_when_pretraining(options):
    batch = collate(**options)
    assert batch["input_ids"][1].tolist() == [5, 1, 0]
    assert batch["labels"][1].tolist() == [-100, 1, -100]
    assert batch["attention_mask"][1].tolist() == [1, 1, 0]


def test_unknown_padding_is_a_clear_error():
    with pytest.raises(DllmError, match="--sft-padding must be 'ignore' or 'eos'"):
        collate(sft_padding="zeros")
