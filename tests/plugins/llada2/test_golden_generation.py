"""Generation golden cases of series 2 with our models, float32:

* LLaDA-MoE with ML-GSAI's ``generate`` (the core ``llada`` preset, the family's default);
* LLaDA2 with the hub model's ``LLaDA2MoeModelLM.generate`` (the core ``llada2`` preset), with
  and without its KV cache.

Same tokens, same number of forward calls and the same tokens committed per call as the
reference."""

from __future__ import annotations

import pytest
from support.golden import golden2_cases
from support.golden_block import check_block_case
from support.golden_run import check_golden_case

from dllm_llada2.family import LLADAMOE
from dllm_llada2.modeling_llada2_moe import LLaDA2MoeModelLM
from dllm_llada2.modeling_lladamoe import LLaDAMoEModelLM

LLADAMOE_CASES = golden2_cases("lladamoe")
LLADA2_CASES = golden2_cases("llada2")


@pytest.fixture(scope="module")
def lladamoe(golden2_dir):
    return LLaDAMoEModelLM.from_pretrained(golden2_dir / "lladamoe" / "checkpoint").eval()


@pytest.fixture(scope="module")
def llada2(golden2_dir):
    return LLaDA2MoeModelLM.from_pretrained(golden2_dir / "llada2" / "checkpoint").eval()


def test_cases_present():
    assert len(LLADAMOE_CASES) == 4 and len(LLADA2_CASES) == 8
    assert all(case["provenance"]["repo"] == "ML-GSAI/LLaDA" for case in LLADAMOE_CASES)
    assert LLADAMOE.default_generator == "llada"  # the preset these cases run with


@pytest.mark.parametrize("case", LLADAMOE_CASES, ids=[case["id"] for case in LLADAMOE_CASES])
def test_lladamoe_golden_case(lladamoe, case):
    check_golden_case(lladamoe, case)


@pytest.mark.parametrize("use_cache", [True, False], ids=["cache", "no-cache"])
@pytest.mark.parametrize("case", LLADA2_CASES, ids=[case["id"] for case in LLADA2_CASES])
def test_llada2_golden_case(llada2, case, use_cache):
    check_block_case(llada2, case, use_cache=use_cache)
