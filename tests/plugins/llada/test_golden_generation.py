"""Every LLaDA golden case (ML-GSAI/LLaDA ``generate`` and Fast-dLLM's three samplers): the same
tokens, the same number of forward calls and the same tokens committed per call, in float32."""

from __future__ import annotations

import pytest
from support.golden import golden_cases
from support.golden_run import check_golden_case, run_golden_case

from dllm_llada.modeling_llada import LLaDAModelLM

CASES = golden_cases("llada")


@pytest.fixture(scope="module")
def model(golden_dir):
    return LLaDAModelLM.from_pretrained(golden_dir / "llada" / "checkpoint").eval()


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_golden_case(model, case):
    check_golden_case(model, case)


def test_all_cases_present():
    assert len(CASES) == 11 and all(case["stability"]["summary"] == "exact" for case in CASES)


def test_lm_head_runs_only_on_the_block(model):
    """With ``logits_to_keep`` the LM head sees the current block, not the whole canvas."""
    case = next(c for c in CASES if c["id"] == "llada/generate/four_blocks_4tok")
    kept = []
    hook = model.register_forward_hook(lambda module, args, output: kept.append(output.logits.shape[1]))
    try:
        run_golden_case(model, case)
    finally:
        hook.remove()
    block = case["params"]["block_length"]
    assert max(kept) <= block < len(case["inputs"]["prompt"][0]) + case["params"]["gen_length"]
