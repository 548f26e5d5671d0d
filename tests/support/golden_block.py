"""Run a block-diffusion case of the golden2 manifest (:mod:`support.golden`) the way its
reference ran, and check it.

* ``a2d_qwen3/bd3lm_sample/*``: dllm's ``BD3LMSampler.sample`` -> the ``bd3lm`` preset; the
  reference's tokenizer ids (``params.tokenizer_ids``) are the special tokens, its output is the
  whole canvas (padded prompts and the blocks generated);
* ``llada2/generate/*``: ``LLaDA2MoeModelLM.generate`` -> the ``llada2`` preset; its output is
  the answer cut after the first ``eos_id``.

NFE is counted as ``conventions.nfe`` says: forward calls of the model object (our LLaDA2 model
is called once per step, like the reference's inner model), with a forward hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dllm_core.generation import BlockOutput, generate_blocks
from dllm_core.special_tokens import SpecialTokens

#: reference function -> (preset, what the reference returns)
REFERENCES = {"BD3LMSampler.sample": "bd3lm", "LLaDA2MoeModelLM.generate": "llada2"}


@dataclass
class BlockGoldenRun:
    """A case's output as the reference returns it, NFE, counted calls and per-call commits."""

    output: BlockOutput
    output_ids: list[list[int]]
    calls: int
    committed_per_call: list[list[int]]


def run_block_case(model: nn.Module, case: dict[str, Any], *, use_cache: bool = True) -> BlockGoldenRun:
    """Run ``case`` with the preset of its reference function and the same parameters.

    ``torch_manual_seed`` seeds torch's global generator right before the call, as the reference
    run did (the presets draw from it when given no generator).
    """
    preset = REFERENCES[case["reference_function"]]
    params, inputs = dict(case["params"]), case["inputs"]
    special = None
    if preset == "bd3lm":
        ids = params.pop("tokenizer_ids")
        assert params.pop("scheduler") == "LinearAlphaScheduler"  # the preset's default
        params.pop("return_dict")
        special = SpecialTokens(mask_token_id=ids["mask_token_id"], eos_token_id=ids["eos_token_id"],
                                bos_token_id=ids["bos_token_id"], pad_token_id=ids["pad_token_id"])
        prompts = inputs["prompts"]
    else:
        assert inputs["attention_mask"] is None
        prompts = inputs["prompt"]
    calls: list[int] = []
    steps: dict[int, list[int]] = {}  # call number -> tokens committed per row
    hook = model.register_forward_hook(lambda module, args, output: calls.append(1))
    try:
        if "torch_manual_seed" in inputs:
            torch.manual_seed(inputs["torch_manual_seed"])
        output = generate_blocks(model, prompts, preset=preset, special=special, use_cache=use_cache,
                                 callback=lambda info: steps.__setitem__(info.nfe, info.committed.sum(dim=1).tolist()),
                                 **params)
    finally:
        hook.remove()
    rows = len(prompts)
    committed = [steps.get(call, [0] * rows) for call in range(1, output.nfe + 1)]
    output_ids = output.sequences.tolist() if preset == "bd3lm" else output.answers()
    return BlockGoldenRun(output, output_ids, len(calls), committed)


def check_block_case(model: nn.Module, case: dict[str, Any], *, use_cache: bool = True) -> BlockGoldenRun:
    """Run ``case`` and assert the reference's output ids, NFE (reported and counted) and the
    tokens committed by each call."""
    run = run_block_case(model, case, use_cache=use_cache)
    expected = case["expected"]
    assert run.output_ids == expected["output_ids"]
    assert run.output.nfe == expected["nfe"] == run.calls
    assert run.committed_per_call == case["stability"]["tokens_committed_per_call"]
    return run
