"""Every LLaDA2 case of golden series 2 through the ``llada2`` preset: ``LLaDA2MoeModelLM.
generate`` token for token (the answer cut after the first ``eos_id``), NFE for NFE and the
tokens each call commits, greedy and seeded (multinomial over the block's rows), with the exact
cache and without it."""

from __future__ import annotations

import pytest
from support.golden import golden2_cases
from support.golden_block import check_block_case

pytest.importorskip("dllm_llada2", reason="the LLaDA2 model plugin (plugins/dllm-llada2) is not installed")

from dllm_core.checkpoint import load_model  # noqa: E402

CASES = [case for case in golden2_cases("llada2") if case["stability"]["summary"] == "exact"]


@pytest.fixture(scope="module")
def model(golden2_dir):
    return load_model(golden2_dir / "llada2" / "checkpoint").eval()


@pytest.mark.parametrize("use_cache", [True, False], ids=["cache", "recompute"])
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_golden2_case(model, case, use_cache):
    check_block_case(model, case, use_cache=use_cache)


def test_cases_cover_sampling_early_stop_and_partial_blocks():
    assert len(CASES) == len(golden2_cases("llada2")) >= 8
    assert any("torch_manual_seed" in case["inputs"] for case in CASES)
    assert any(case["params"]["eos_early_stop"] for case in CASES)
    assert any(len(case["inputs"]["prompt"][0]) % case["params"]["block_length"] for case in CASES)
