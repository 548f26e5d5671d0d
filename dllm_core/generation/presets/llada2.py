"""LLaDA2.0's ``LLaDA2MoeModelLM.generate`` (the inclusionAI hub model file; dllm's copy in
``dllm/pipelines/llada2/models/modeling_llada2_moe.py``).

The prompt is followed by masks up to ``num_blocks * block_length`` columns, ``num_blocks =
ceil((prompt + gen_length) / block_length)``: the canvas is padded to whole blocks, the prompt's
last block may hold answer masks, blocks the prompt fills alone are skipped. Each block runs at
most ``steps = min(steps, gen_length // minimal_topk)`` steps, step ``i`` having the count
``block_length // steps`` (+1 for the first ``block_length % steps``), counted from the block
length whatever the block's masks (:class:`~dllm_core.generation.block_parts.BlockLengthSplit`);
the block ends early once it has no mask. A step chooses tokens greedily (``argmax softmax``) or,
at ``temperature > 0``, by one ``torch.multinomial`` draw per block position from
``softmax(logits / T)`` filtered by ``top_k`` then ``top_p`` (:class:`~dllm_core.generation.
block_parts.SoftmaxSampleChooser`), and commits every masked position whose probability is
strictly above ``threshold`` when there are at least ``count`` of them, else the ``count`` most
probable (:class:`~dllm_core.generation.block_parts.ThresholdElseTopKCommit`).

Every call of the reference sees the canvas up to the end of the current block under a
block-causal mask with positions ``0..end-1``; here the first step of a block also finishes the
columns before it (their keys/values are appended to the exact cache) and later steps run the
block only: the same calls (NFE), the same tokens. After a block, generation stops when the
answer holds ``eos_id``; with ``eos_early_stop`` also right after a step that committed
``eos_id``, once no mask is left before the first ``eos_id``. The answer is the generated part
(``gen_length`` tokens) cut after its first ``eos_id``.

Beyond the reference (batch 1 only): prompts of different lengths run as one batch, each row
shifted by whole blocks so that it sees its own single-row block grid (padding is not attended
to and not counted as a position); the batch stops when every row has ended. The early stop
looks for ``eos_id`` in the answer only (the reference also finds one in the prompt, and then
returns an empty answer). The mask id may be chosen, as in the reference (that position stays
masked); ``suppress_mask_token=True`` never chooses it.

LLaDA2.1's editing decoding (``dllm/pipelines/llada21``) is not covered.
"""

from __future__ import annotations

from dataclasses import dataclass

from dllm_core.generation.block import BlockConfig
from dllm_core.generation.block_canvas import prompt_then_blocks
from dllm_core.generation.block_generator import BlockContext, BlockGenerator, BlockPrepared
from dllm_core.generation.block_parts import BlockLengthSplit, SoftmaxSampleChooser, ThresholdElseTopKCommit
from dllm_core.generation.confidence import ProbabilityConfidence
from dllm_core.generation.contract import (
    COUNT,
    NON_NEGATIVE,
    OPEN_PROBABILITY,
    PROBABILITY,
    ParameterRoles,
    check_ranges,
    params_field,
)
from dllm_core.generation.presets.base import check_positive


@dataclass(frozen=True)
class LLaDA2Params:
    """Parameters of ``LLaDA2MoeModelLM.generate`` (its names and defaults; the token ids default
    to the checkpoint's instead of the hub model's)."""

    temperature: float = params_field(0.0, "sampling temperature (0: greedy)")
    block_length: int = params_field(32, "block length")
    steps: int = params_field(32, "denoising steps per block")
    gen_length: int = params_field(2048, "tokens to generate")
    top_p: float | None = params_field(None, "nucleus sampling mass (with temperature > 0)")
    top_k: int | None = params_field(None, "top-k sampling (with temperature > 0)")
    eos_early_stop: bool = params_field(False, "stop right after the step that completes an answer with EOS")
    minimal_topk: int = params_field(1, "caps steps at gen_length // minimal_topk")
    threshold: float = params_field(0.95, "commit every masked position above this probability (if enough)")
    eos_id: int | None = params_field(None, "end-of-sequence id (default: the checkpoint's)")
    mask_id: int | None = params_field(None, "mask token id (default: the checkpoint's)")
    suppress_mask_token: bool = params_field(
        False, "never choose the mask id (the reference may, leaving that position masked)")

    def __post_init__(self) -> None:
        check_ranges(self, temperature=NON_NEGATIVE, block_length=COUNT, steps=COUNT, gen_length=COUNT,
                     top_p=OPEN_PROBABILITY, top_k=COUNT, minimal_topk=COUNT, threshold=PROBABILITY)


def prepare_llada2(context: BlockContext, params: LLaDA2Params) -> BlockPrepared:
    """``LLaDA2MoeModelLM.generate`` (see the module doc)."""
    check_positive(block_length=params.block_length, steps=params.steps, gen_length=params.gen_length,
                   minimal_topk=params.minimal_topk)
    steps = min(params.steps, params.gen_length // params.minimal_topk)
    if steps < 1:
        raise ValueError(f"minimal_topk ({params.minimal_topk}) above gen_length ({params.gen_length}) leaves no "
                         "step; lower minimal_topk")
    mask = context.required_id(params.mask_id, "mask", "mask_id")
    eos = context.token_id(params.eos_id, "eos")
    pad = context.token_id(None, "pad")
    canvas = prompt_then_blocks(context.prompts, params.gen_length, params.block_length, mask,
                                pad if pad is not None else mask)
    config = BlockConfig(
        mask_token_id=mask,
        transfer=BlockLengthSplit(steps, params.block_length),
        tokens=SoftmaxSampleChooser(params.temperature, params.top_k, params.top_p),
        confidence=ProbabilityConfidence(),
        commit=ThresholdElseTopKCommit(params.threshold),
        suppress_mask_token=params.suppress_mask_token,
        shift=context.capabilities.logit_shift,
        eos_token_id=eos,
        eos_stop_in_block=params.eos_early_stop,
    )
    return BlockPrepared(canvas, config)


LLADA2 = BlockGenerator(
    name="llada2",
    description="LLaDA2.0 generate: block diffusion, threshold commits, exact KV cache",
    params_class=LLaDA2Params,
    prepare=prepare_llada2,
    roles=ParameterRoles(length="gen_length", block="block_length", steps="steps", mask_id="mask_id"),
)
