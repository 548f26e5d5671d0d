"""An Edit Flows checkpoint under lm-eval: generation through its own generator (rows of any
length, no padding), speed recorded; log-likelihood requests refused with one clear error."""

from __future__ import annotations

import pytest
import torch
from lm_eval.api.instance import Instance

from dllm_core.checkpoint import CheckpointInfo, save_checkpoint
from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_core.errors import DllmError
from dllm_core.evaluation.registration import register_lm_eval_models
from dllm_editflow.builder import build_from_preset


@pytest.fixture(scope="module")
def editflow_lm(tmp_path_factory):
    from lm_eval.api.registry import get_model

    torch.manual_seed(0)
    tokenizer = build_char_tokenizer()
    model = build_from_preset("tiny", tokenizer, backbone="llada").eval()
    info = CheckpointInfo(family="editflow", extra={"backbone_family": "llada"})
    folder = save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("editflow") / "ckpt", info)
    register_lm_eval_models()
    return get_model("editflow")(pretrained=str(folder), steps=4, batch_size=2)


def test_edit_flows_generates_with_its_own_generator(editflow_lm):
    prompts = ["12+3=", "1200\n3400\n0000\n4321"]
    requests = [Instance("generate_until", {}, (p, {"until": ["\n\n"], "max_gen_toks": 8}), i, metadata=("t", i, 1))
                for i, p in enumerate(prompts)]
    answers = editflow_lm.generate_until(requests)
    info = editflow_lm.get_model_info()
    assert info["generator"] == "editflow" and info["generator_params"]["steps"] == 4
    assert len(answers) == 2 and all(isinstance(answer, str) and "\n\n" not in answer for answer in answers)
    assert info["speed"]["t"]["requests"] == 2 and info["speed"]["t"]["nfe"] >= 1


def test_edit_flows_refuses_likelihood_tasks(editflow_lm):
    with pytest.raises(DllmError, match="no masked-diffusion likelihood bound.*generate_until"):
        editflow_lm.loglikelihood([Instance("loglikelihood", {}, ("12+3=", "15"), 0)])
