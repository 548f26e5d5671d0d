"""Run a case of the golden manifest (:mod:`support.golden`) the way its reference ran.

:func:`run_golden_case` runs one case through the preset of its reference function with the same
parameters; :func:`check_golden_case` runs it and asserts the reference's tokens, NFE (counted in
forward calls too) and per-call commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dllm_core.generation import DREAM, FASTDLLM, LLADA, MDLM, GenerationOutput, generate

#: Fast-dLLM's LLaDA functions -> the ``use_cache`` of the ``fastdllm`` preset
FASTDLLM_FUNCTIONS = {"generate": None, "generate_with_prefix_cache": "prefix",
                      "generate_with_dual_cache": "dual"}


@dataclass
class GoldenRun:
    """A golden case's result and, per forward call, the tokens committed in each row."""

    output: GenerationOutput
    committed_per_call: list[list[int]]


def run_golden_case(model: Any, case: dict[str, Any]) -> GoldenRun:
    """Run a manifest case with the preset of its reference function and the same parameters.

    Parameter names are the reference's; only the reference's output switches
    (``output_history``, ``return_dict_in_generate``) are dropped, and the BERT cases' tokenizer
    ids become ``mask_token_id`` / ``eos_token_id``. A ``torch_manual_seed`` input seeds torch's
    global generator right before the call, as the reference run did.
    """
    params = dict(case["params"])
    inputs = case["inputs"]
    extra: dict[str, Any] = {}
    if case["family"] == "bert":
        ids = params.pop("tokenizer_ids")
        assert not params.pop("stochastic_transfer")
        assert params.pop("scheduler") == "LinearAlphaScheduler"  # the preset's default
        params["mask_token_id"] = ids["mask_token_id"]
        params["bos_token_id"] = ids["bos_token_id"]
        extra["eos_token_id"] = ids["eos_token_id"]
        preset, prompts, mask = MDLM, inputs["prompts"], None
    else:
        prompts = torch.tensor(inputs["prompt"])
        mask = torch.tensor(inputs["attention_mask"]) if inputs["attention_mask"] is not None else None
        if case["family"] == "dream":
            preset = DREAM
            for switch in ("output_history", "return_dict_in_generate"):
                params.pop(switch, None)
        elif case["provenance"]["repo"] == "NVlabs/Fast-dLLM":
            preset = FASTDLLM
            params["use_cache"] = FASTDLLM_FUNCTIONS[case["reference_function"]]
        else:
            preset = LLADA
    committed: list[list[int]] = []
    if "torch_manual_seed" in inputs:
        torch.manual_seed(inputs["torch_manual_seed"])
    output = generate(model, prompts, preset=preset, attention_mask=mask,
                      callback=lambda info: committed.append(info.committed.sum(dim=1).tolist()),
                      **extra, **params)
    return GoldenRun(output, committed)


def check_golden_case(model: nn.Module, case: dict[str, Any]) -> GoldenRun:
    """Run a manifest case and assert it matches its reference exactly.

    The output tokens equal ``expected["output_ids"]``, the reported NFE equals both
    ``expected["nfe"]`` and the number of ``model`` forward calls, and the tokens committed per
    call equal ``stability["tokens_committed_per_call"]``.
    """
    calls: list[int] = []
    hook = model.register_forward_hook(lambda module, args, output: calls.append(1))
    try:
        run = run_golden_case(model, case)
    finally:
        hook.remove()
    expected = case["expected"]
    assert run.output.sequences.tolist() == expected["output_ids"]
    assert run.output.nfe == expected["nfe"] == len(calls)
    assert run.committed_per_call == case["stability"]["tokens_committed_per_call"]
    return run
