"""Every Dream case of golden series 2 (hub ``diffusion_generate``, all seeded): top-p / top-k
sampling through ``torch.distributions.Categorical`` over the masked rows, and ``alg_temp``
position sampling with ``torch.multinomial`` over the whole canvas. Same tokens, NFE and
tokens committed per call, in float32."""

from __future__ import annotations

import pytest
import torch
from support.golden import golden2_cases
from support.golden_run import check_golden_case, run_golden_case

from dllm_dream.modeling_dream import DreamModel

CASES = [case for case in golden2_cases("dream") if case["stability"]["summary"] == "exact"]


@pytest.fixture(scope="module")
def model(golden2_dir):
    return DreamModel.from_pretrained(golden2_dir / "dream" / "checkpoint").eval()


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_golden2_case(model, case):
    check_golden_case(model, case)


def test_cases_cover_every_sampling_path():
    assert len(CASES) == len(golden2_cases("dream")) >= 7
    params = [case["params"] for case in CASES]
    assert any(p.get("top_p") for p in params) and any(p.get("top_k") for p in params)
    assert any(p.get("alg_temp") for p in params) and any(p["temperature"] > 0 for p in params)


def test_alg_temp_case_depends_on_the_seed(model):
    case = next(c for c in CASES if c["id"] == "dream/diffusion_generate/maskgit_plus_algtemp0p5")
    other = {**case, "inputs": {**case["inputs"], "torch_manual_seed": case["inputs"]["torch_manual_seed"] + 1}}
    assert run_golden_case(model, other).output.sequences.tolist() != case["expected"]["output_ids"]
    torch.manual_seed(0)
