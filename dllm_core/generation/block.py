"""Block diffusion generation: the answer grows block by block over an exact key/value cache.

The canvas (:mod:`~dllm_core.generation.block_canvas`) is cut into blocks of ``block_length``
columns. Block ``k`` is denoised with a masked-diffusion loop while attending, bidirectionally,
to itself and to every earlier block (prompt included) and to nothing after it:

    p(x^k | x^{<k}) = prod_steps p_theta(x_committed^k | x_t^k, x^{<k})        (BD3LM, arXiv 2503.09573)

so once block ``k`` is complete its keys/values are final: they are computed once and appended
to the cache (:class:`~dllm_core.generation.cache.BlockKVCache`), and each step of block
``k + 1`` runs only that block's ``W`` tokens over the cached prefix (logits ``[B, W, V]``).
Unlike Fast-dLLM's dual cache nothing is approximated; a model without cache support
recomputes the prefix every call (:mod:`~dllm_core.generation.block_runner`), with the same
tokens up to float rounding and the same number of calls.

For each block, left to right:

1. the newly finished columns (the prompt, then each finished block) become final: in a call of
   their own (``finish_in_own_call``, dllm's BD3LM: one prefix forward per block, counted in
   NFE) or together with the block's first step (LLaDA2);
2. the transfer schedule makes the block's plan from its mask count; each step takes the
   block's logits, chooses tokens (any :mod:`~dllm_core.generation.tokens` chooser), scores them
   (:mod:`~dllm_core.generation.confidence`) and commits the positions the commit rule picks
   (:mod:`~dllm_core.generation.commit`) among the block's masked ones; the block ends when its
   steps are spent or no row has a mask left in it;
3. with an EOS id, generation stops once every row holds EOS in its answer so far
   (``eos_stop_in_block``: also right after a step that committed EOS, once every row holds EOS
   with no mask before it, LLaDA2's ``eos_early_stop``).

Every call works on the whole batch; rows of different prompt lengths share the block grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from dllm_core.generation.block_canvas import BlockCanvas
from dllm_core.generation.block_runner import BlockRunner, positions_of
from dllm_core.generation.capabilities import ModelCapabilities
from dllm_core.generation.commit import CommitRule, TopKCommit
from dllm_core.generation.confidence import ConfidenceScore, ProbabilityConfidence
from dllm_core.generation.output import StepInfo
from dllm_core.generation.tokens import GumbelChooser, TokenChooser
from dllm_core.generation.transfer import BlockPlan, TransferSchedule

StepCallback = Callable[[StepInfo], None]


@dataclass(frozen=True)
class BlockConfig:
    """The settings of the block loop (the canvas fixes the block length and layout).

    Attributes:
        mask_token_id: id of the mask token.
        transfer: tokens per step within a block (and the block's number of steps).
        tokens: token choice (greedy, Gumbel, categorical, top-k/top-p sampling).
        confidence: how the candidates are ranked.
        commit: which candidates a step commits.
        finish_in_own_call: finished columns get their keys/values in a call of their own before
            the block's first step (dllm's BD3LM prefix forward); otherwise in that first step.
        suppress_mask_token: never choose the mask id; when ``False`` a position whose chosen
            token is the mask id stays masked and uses up its transfer, as the references do.
        padding_token_id: a finished token equal to this id counts as padding from then on (not
            attended to, not counted as a position), as dllm's BD3LM treats its pad id; ``None``:
            only the layout's padding is padding.
        shift: position ``p`` is predicted by the output at ``p - 1`` (dllm's
            ``right_shift_logits``, families with a logit shift).
        eos_token_id: the end-of-sequence id; ``None`` never stops early.
        eos_stop_in_block: also stop right after a step that committed EOS (see module doc).
        use_cache: use the exact cache when the model supports it (``False``: recompute).
        slice_logits: run the LM head only on the needed positions (when the model takes
            ``logits_to_keep``).
    """

    mask_token_id: int
    transfer: TransferSchedule
    tokens: TokenChooser = field(default_factory=GumbelChooser)
    confidence: ConfidenceScore = field(default_factory=ProbabilityConfidence)
    commit: CommitRule = field(default_factory=TopKCommit)
    finish_in_own_call: bool = False
    suppress_mask_token: bool = True
    padding_token_id: int | None = None
    shift: bool = False
    eos_token_id: int | None = None
    eos_stop_in_block: bool = False
    use_cache: bool = True
    slice_logits: bool = True


@dataclass
class BlockOutput:
    """What :func:`denoise_blocks` returns.

    Attributes:
        sequences: ``[B, T']`` the canvas up to the end of the last block that was denoised
            (padding and prompt included; later blocks, never generated, are cut).
        nfe: forward calls of the model.
        region_start: ``[B]`` first answer column of each row.
        length: answer tokens per row.
        eos_token_id: the EOS id of the run (``None``: none).
    """

    sequences: torch.Tensor
    nfe: int
    region_start: torch.Tensor
    length: int
    eos_token_id: int | None = None

    def answers(self) -> list[list[int]]:
        """Per row, the generated tokens (at most ``length``), cut after the first EOS."""
        rows = []
        for sequence, start in zip(self.sequences.tolist(), self.region_start.tolist()):
            answer = sequence[start:start + self.length]
            if self.eos_token_id is not None and self.eos_token_id in answer:
                answer = answer[:answer.index(self.eos_token_id) + 1]
            rows.append(answer)
        return rows


@torch.no_grad()
def denoise_blocks(
    model: Any,
    canvas: BlockCanvas,
    config: BlockConfig,
    capabilities: ModelCapabilities,
    *,
    generator: torch.Generator | None = None,
    callback: StepCallback | None = None,
) -> BlockOutput:
    """Fill the answer of ``canvas`` block by block; see the module doc."""
    tokens = canvas.tokens.clone()  # [B, T], written in place
    valid = canvas.valid.clone()  # [B, T]
    mask_id = config.mask_token_id
    runner = BlockRunner(model, tokens.shape[1], canvas.block_length, capabilities, use_cache=config.use_cache,
                         slice_logits=config.slice_logits, shift=config.shift)
    generated_end = canvas.first_block * canvas.block_length
    for block in range(canvas.first_block, canvas.num_blocks):
        start, end = canvas.block_bounds(block)
        if config.padding_token_id is not None:  # finished tokens equal to the pad id become padding
            valid[:, runner.final:start] &= tokens[:, runner.final:start] != config.padding_token_id
        positions = positions_of(valid)  # [B, T]
        if config.finish_in_own_call and runner.final < start:
            runner.finish(tokens, valid, positions, start)
        plan = config.transfer.plan((tokens[:, start:end] == mask_id).sum(dim=1))
        step, stopped = 0, False
        while not stopped and (plan.num_steps is None or step < plan.num_steps):
            candidates = tokens[:, start:end] == mask_id  # [B, W]
            if not bool(candidates.any()):
                break
            logits = runner.block_logits(tokens, valid, positions, (start, end))  # [B, W, V]
            committed = _step(tokens, (start, end), logits, candidates, plan, step, config, generator)
            if callback is not None:
                callback(StepInfo(block=block - canvas.first_block, step=step, nfe=runner.nfe, tokens=tokens,
                                  committed=committed))
            stopped = config.eos_stop_in_block and _ended_by_step(tokens, committed, canvas, end, config)
            step += 1
        generated_end = end
        if stopped or (config.eos_token_id is not None and _all_ended(tokens, canvas, end, config)):
            break
    return BlockOutput(tokens[:, :generated_end], runner.nfe, canvas.region_start, canvas.length,
                       config.eos_token_id)


def _step(tokens: torch.Tensor, block: tuple[int, int], logits: torch.Tensor, candidates: torch.Tensor,
          plan: BlockPlan, step: int, config: BlockConfig, generator: torch.Generator | None) -> torch.Tensor:
    """Commit the step's positions of block ``(start, end)`` of ``tokens [B, T]`` (in place) from
    the block's ``logits [B, W, V]``; returns the positions filled, ``[B, T]`` bool."""
    start, end = block
    banned = (config.mask_token_id,) if config.suppress_mask_token else ()
    choice = config.tokens.choose(logits, generator, banned=banned)
    confidence = config.confidence.score(choice, generator).masked_fill(~candidates, -torch.inf)  # [B, W]
    chosen = config.commit.select(confidence, candidates, plan.quota(step, candidates.sum(dim=1)), generator)
    tokens[:, start:end] = torch.where(chosen, choice.tokens, tokens[:, start:end])
    plan.observe(step, chosen.sum(dim=1))
    committed = torch.zeros_like(tokens, dtype=torch.bool)
    committed[:, start:end] = chosen & (choice.tokens != config.mask_token_id)  # a chosen mask id stays masked
    return committed


def _answer_columns(canvas: BlockCanvas, end: int, device: torch.device) -> torch.Tensor:
    """``[B, end]`` bool: the answer columns of each row before ``end``."""
    columns = torch.arange(end, device=device)
    return columns[None, :] >= canvas.region_start[:, None]


def _all_ended(tokens: torch.Tensor, canvas: BlockCanvas, end: int, config: BlockConfig) -> bool:
    """Every row holds EOS in its answer before column ``end``."""
    answer = _answer_columns(canvas, end, tokens.device)
    return bool(((tokens[:, :end] == config.eos_token_id) & answer).any(dim=1).all())


def _ended_by_step(tokens: torch.Tensor, committed: torch.Tensor, canvas: BlockCanvas, end: int,
                   config: BlockConfig) -> bool:
    """The step committed EOS and now every row holds EOS in its answer before ``end`` with no
    mask before its first EOS."""
    eos = config.eos_token_id
    if eos is None or not bool((committed & (tokens == eos)).any()):
        return False
    answer = _answer_columns(canvas, end, tokens.device)  # [B, end]
    is_eos = (tokens[:, :end] == eos) & answer
    before_eos = answer & (is_eos.long().cumsum(dim=1) == 0)  # answer columns before the first EOS
    masked_before = ((tokens[:, :end] == config.mask_token_id) & before_eos).any(dim=1)
    return bool((is_eos.any(dim=1) & ~masked_before).all())
