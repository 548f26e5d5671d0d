"""Every A2D Qwen3 case of golden series 2 through the ``bd3lm`` preset: dllm's
``BD3LMSampler.sample`` token for token (the whole canvas it returns), NFE for NFE (the per-block
prefix forward included) and the tokens each forward call commits, with the exact cache and
without it (prefix recomputed every call)."""

from __future__ import annotations

import pytest
from support.golden import golden2_cases
from support.golden_block import check_block_case

pytest.importorskip("dllm_a2d", reason="the A2D model plugin (plugins/dllm-a2d) is not installed")

from dllm_core.checkpoint import load_model  # noqa: E402

CASES = [case for case in golden2_cases("a2d_qwen3") if case["stability"]["summary"] == "exact"]


@pytest.fixture(scope="module")
def model(golden2_dir):
    return load_model(golden2_dir / "a2d_qwen3" / "checkpoint").eval()


@pytest.mark.parametrize("use_cache", [True, False], ids=["cache", "recompute"])
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_golden2_case(model, case, use_cache):
    check_block_case(model, case, use_cache=use_cache)


def test_cases_cover_batches_eos_and_partial_blocks():
    assert len(CASES) == len(golden2_cases("a2d_qwen3")) >= 5
    assert any(len(case["inputs"]["prompts"]) > 1 for case in CASES)
    assert any(case["params"]["max_new_tokens"] % case["params"]["block_size"] for case in CASES)
    def stopped_early(case):  # the canvas ends before the answer's last block
        params, prompts = case["params"], case["inputs"]["prompts"]
        padded = -(-max(map(len, prompts)) // params["block_size"]) * params["block_size"]
        return len(case["expected"]["output_ids"][0]) < padded + params["max_new_tokens"]

    assert any(stopped_early(case) for case in CASES)
