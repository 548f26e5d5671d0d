"""The masked-diffusion generation loop, composed from the parts in :class:`GenerationConfig`.

For each block (left to right) and each step of it:

1. candidates = the block's positions that still hold the mask id, per row (with
   ``carry_over_masks``, every masked position before the block's end, when the call sees the
   whole canvas: LLaDA's ``generate``);
2. logits ``[B, W, V]`` of the window: the columns where some row has a candidate (the
   candidate span, or only its masked columns when it has holes: the LM head, softmax and
   confidences never see a committed column), from one model call (:class:`StepRunner`), with
   suppressed tokens set to -inf;
3. token choice -> tokens ``[B, W]`` and probabilities; confidence ``[B, W]``, -inf off the
   candidates. Random draws are laid out over the call's outputs (:class:`DrawFrame`), as the
   references draw them, so seeded runs reproduce theirs;
4. the transfer schedule's quota for the step, then the commit rule picks positions, which
   take their chosen tokens. Committed tokens never change again.

The mask id itself is never chosen when ``suppress_mask_token`` is set. Otherwise (the
references' behaviour) a selected position whose chosen token is the mask id stays masked and
its transfer is used up; it is not counted as committed. A step of a block without a step count
(threshold, factor rules) that commits nothing at all would repeat forever (the references
hang there); such a row is redone once with the mask id banned (the other rows keep their choice).

A block ends when its plan's steps are spent (plans without a step count run on) or as soon as
it has no candidate left, so blocks without masks cost nothing. Every step works on the whole
batch at once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import torch

from dllm_core.generation.canvas import Canvas
from dllm_core.generation.capabilities import ModelCapabilities
from dllm_core.generation.config import GenerationConfig
from dllm_core.generation.draws import DrawFrame
from dllm_core.generation.output import GenerationOutput, StepInfo
from dllm_core.generation.runner import StepRunner
from dllm_core.generation.commit import CommitRule
from dllm_core.generation.tokens import TokenChoice
from dllm_core.generation.transfer import BlockPlan, StepQuota

StepCallback = Callable[[StepInfo], None]


def _span(columns: torch.Tensor) -> tuple[int, int]:
    """``(first, last + 1)`` of the True entries of a 1D bool tensor (which has one)."""
    first, last = _true_columns(columns)[[0, -1]].tolist()
    return first, last + 1


def _true_columns(columns: torch.Tensor) -> torch.Tensor:
    """``[n]`` long, the indices of the True entries of a 1D bool tensor."""
    return columns.nonzero().flatten()


@torch.no_grad()
def denoise(
    model: Any,
    canvas: Canvas,
    config: GenerationConfig,
    capabilities: ModelCapabilities,
    *,
    generator: torch.Generator | None = None,
    callback: StepCallback | None = None,
    return_history: bool = False,
) -> GenerationOutput:
    """Fill every mask of ``canvas`` with ``model``; see the module doc for the loop."""
    mask_id = config.mask_token_id
    tokens = canvas.tokens.clone()  # [B, L], written in place
    runner = StepRunner(model, canvas, capabilities, mask_id=mask_id, cache=config.cache,
                        cfg_scale=config.cfg_scale, slice_logits=config.slice_logits,
                        cfg_keep_tokens=config.cfg_keep_tokens, static_shapes=config.static_shapes,
                        compile=config.compile)
    history = [tokens.clone()] if return_history else None
    columns = torch.arange(tokens.shape[1], device=tokens.device)  # [L]
    block_length = config.block_length or tokens.shape[1]
    for block in range(canvas.num_blocks(block_length)):
        start, end = canvas.block_bounds(block, block_length)  # [B], [B]
        in_block = (columns >= start[:, None]) & (columns < end[:, None])  # [B, L]
        if not bool(in_block.any()):
            continue
        block_span = _span(in_block.any(dim=0))
        plan = config.transfer.plan(((tokens == mask_id) & in_block).sum(dim=1))
        step = 0
        before_end = columns < end[:, None]  # [B, L]
        while plan.num_steps is None or step < plan.num_steps:
            whole_canvas = runner.cache is None or config.full_forward(step)
            reach = before_end if config.carry_over_masks and whole_canvas else in_block
            candidates = (tokens == mask_id) & reach  # [B, L]
            if not bool(candidates.any()):
                break
            committed = _step(tokens, candidates, block_span, step, plan, runner, config, generator)
            if history is not None:
                history.append(tokens.clone())
            if callback is not None:
                callback(StepInfo(block=block, step=step, nfe=runner.nfe, tokens=tokens,
                                  committed=committed))
            step += 1
        if config.stop_at_eos and _all_ended(tokens, canvas, end, config):
            tokens[tokens == mask_id] = config.eos_token_id
            break
    return GenerationOutput(sequences=tokens, nfe=runner.nfe, histories=history)


def _step(
    tokens: torch.Tensor,
    candidates: torch.Tensor,
    block_span: tuple[int, int],
    step: int,
    plan: BlockPlan,
    runner: StepRunner,
    config: GenerationConfig,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """One denoising step on ``tokens [B, L]`` (in place); returns the committed positions."""
    index = _true_columns(candidates.any(dim=0))  # [n] columns with a candidate
    klo, last = index[[0, -1]].tolist()
    khi = last + 1
    columns: slice | torch.Tensor = slice(klo, khi)
    gathered = None
    if index.numel() < khi - klo:  # holes in the span: look at the candidate columns only
        columns = gathered = index
    window = candidates[:, columns]  # [B, W]
    fresh = config.full_forward(step)
    logits = runner.logits(tokens, block_span, (klo, khi), block_start=fresh, columns=gathered)  # [B, W, V]
    draws = config.prefix_noise_draws if runner.cache_mode == "prefix" and not fresh else 1
    frame = DrawFrame(*runner.query, window_start=klo, candidates=window, token_draws=draws, columns=gathered)
    rule = config.commit
    if step == 0 and config.block_start_commit is not None:
        rule = config.block_start_commit
    chosen, chosen_tokens = commit_window(logits, window, plan.quota(step, window.sum(dim=1)), rule, config,
                                          generator, frame, open_ended=plan.num_steps is None)
    filled = chosen & (chosen_tokens != config.mask_token_id)  # a chosen mask id leaves the position masked
    tokens[:, columns] = torch.where(chosen, chosen_tokens, tokens[:, columns])
    plan.observe(step, filled.sum(dim=1))
    committed = torch.zeros_like(candidates)
    committed[:, columns] = filled
    return committed


def _select(
    logits: torch.Tensor,
    window: torch.Tensor,
    quota: StepQuota,
    rule: CommitRule,
    config: GenerationConfig,
    generator: torch.Generator | None,
    frame: DrawFrame,
    banned: tuple[int, ...],
) -> tuple[torch.Tensor, TokenChoice]:
    """Token choice, confidence and commit rule on the window: ``(chosen [B, W], choice)``.

    A rule that does not read confidences selects first; tokens are then drawn for the
    selected positions only (Dream's ``origin``: uniforms first, then one categorical draw per
    revealed position).
    """
    if not rule.reads_confidence:
        chosen = rule.select(torch.zeros(window.shape, device=window.device), window, quota, generator, frame)
        return chosen, config.tokens.choose(logits, generator, banned=banned,
                                            frame=replace(frame, candidates=chosen))
    choice = config.tokens.choose(logits, generator, banned=banned, frame=frame)
    confidence = config.confidence.score(choice, generator, frame).masked_fill(~window, -torch.inf)
    return rule.select(confidence, window, quota, generator, frame), choice


def commit_window(
    logits: torch.Tensor,
    window: torch.Tensor,
    quota: StepQuota,
    rule: CommitRule,
    config: GenerationConfig,
    generator: torch.Generator | None,
    frame: DrawFrame,
    *,
    open_ended: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The positions a step commits and their tokens: ``(chosen [B, W], tokens [B, W])``.

    ``logits [B, W, V]`` of the window get the suppressed tokens set to -inf, then token
    choice, confidence and commit rule run (:func:`_select`). In a block without a step count
    (``open_ended``) a row that would commit nothing because every position it selected chose
    the mask id is redone with the mask id banned; only such rows take the redone choice, so a
    row's tokens never depend on the other rows of its batch.
    """
    if config.suppress_tokens:
        suppressed = torch.tensor(config.suppress_tokens, device=logits.device)
        logits = logits.index_fill(-1, suppressed, -torch.inf)
    mask_id = config.mask_token_id
    banned = (mask_id,) if config.suppress_mask_token else ()
    chosen, choice = _select(logits, window, quota, rule, config, generator, frame, banned)
    tokens = choice.tokens
    if banned or not open_ended:
        return chosen, tokens
    stalled = _stalled_rows(chosen, tokens, window, mask_id)  # [B]
    if bool(stalled.any()):
        redone, rechoice = _select(logits, window, quota, rule, config, generator, frame, (mask_id,))
        chosen = torch.where(stalled[:, None], redone, chosen)
        tokens = torch.where(stalled[:, None], rechoice.tokens, tokens)
    return chosen, tokens


def _stalled_rows(chosen: torch.Tensor, tokens: torch.Tensor, window: torch.Tensor, mask_id: int) -> torch.Tensor:
    """``[B]`` rows with candidates that would commit nothing: all they selected chose the mask id."""
    progress = (chosen & (tokens != mask_id)).any(dim=1)  # [B]
    return window.any(dim=1) & ~progress


def _all_ended(tokens: torch.Tensor, canvas: Canvas, end: torch.Tensor,
               config: GenerationConfig) -> bool:
    """Every row has an EOS in its region up to ``end`` (or has no mask left to fill)."""
    columns = torch.arange(tokens.shape[1], device=tokens.device)
    done_part = (columns >= canvas.region_start[:, None]) & (columns < end[:, None])
    ended = ((tokens == config.eos_token_id) & done_part).any(dim=1)
    finished = ~(tokens == config.mask_token_id).any(dim=1)
    return bool((ended | finished).all())
