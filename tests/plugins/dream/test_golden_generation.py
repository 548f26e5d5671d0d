"""Every Dream golden case (hub ``diffusion_generate`` incl. the seeded ``origin`` run, and
Fast-dLLM's Dream samplers with prefix/dual caches): same tokens, NFE and per-call commits."""

from __future__ import annotations

import pytest
from support.golden import golden_cases
from support.golden_run import check_golden_case

from dllm_dream.modeling_dream import DreamModel

CASES = golden_cases("dream")


@pytest.fixture(scope="module")
def model(golden_dir):
    return DreamModel.from_pretrained(golden_dir / "dream" / "checkpoint").eval()


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_golden_case(model, case):
    check_golden_case(model, case)


def test_all_cases_present():
    assert len(CASES) == 11
    assert sum(bool(case["stability"].get("rng_dependent")) for case in CASES) == 1
