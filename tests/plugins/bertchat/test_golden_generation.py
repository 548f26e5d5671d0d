"""Every BERT-chat golden case: transformers' ModernBERT sampled by the ``mdlm`` preset gives
dllm ``MDLMSampler``'s tokens, NFE and per-call commits (right padding, per-row blocks, CFG)."""

from __future__ import annotations

import pytest
from support.golden import golden_cases
from support.golden_run import check_golden_case
from transformers import ModernBertForMaskedLM

CASES = golden_cases("bert")


@pytest.fixture(scope="module")
def model(golden_dir):
    folder = golden_dir / "bert" / "checkpoint"
    return ModernBertForMaskedLM.from_pretrained(folder, attn_implementation="sdpa").eval()


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_golden_case(model, case):
    check_golden_case(model, case)


def test_all_cases_present():
    assert len(CASES) == 5
