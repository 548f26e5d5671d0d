"""Step-level (continuous) batching: a batch whose rows join and leave between denoising steps.

:func:`~dllm_core.generation.engine.denoise` runs a fixed batch from its first step to its last.
:class:`RunningBatch` keeps the same loop's state per row instead, so a row can join at any step
and leaves as soon as it is done:

* each row is the canvas it has alone (its prompt, then its masks), right-aligned in the batch
  ``tokens [B, W]`` (``W``: the longest row) behind ``pad [B]`` columns of left padding that
  no position attends to, with rotary positions counted from the row's own first token
  (``column - pad``): the model sees every row as it would alone;
* per row ``[B]``: its region (first to last mask), block length, number of blocks, current
  block, step in the block, steps per block and the block's transfer counts ``[B, S]``
  (:func:`~dllm_core.generation.transfer.linear_split` with each row's own step count);
* a step is one model call over every row: the candidates ``[B, W]`` (each row's masked
  positions of its block, or before its block's end with ``carry_over_masks``), the logits of
  the columns where some row has one, then token choice, confidence and commit rule over that
  window with each row's quota (:func:`~dllm_core.generation.engine.commit_window`);
* after a step (and when rows join) every row whose block is over moves on, all rows at once:
  a block ends when its steps are spent (rules without a count run until it is full) or it has
  no candidate left; with ``stop_at_eos`` a row whose answer up to the block's end holds EOS
  (or that has no mask left) fills its masks with EOS and is done, as it stops alone; a row is
  also done after its last block. No step loops over rows in Python.

A row therefore takes the tokens it takes alone, up to floating point: its outputs must not
depend on its padding or on the other rows, which holds for the core's models on CPU (the
serving tests compare every answer with the same prompt run alone).

Only deterministic runs of the plain loop can be resumed this way; :func:`stepwise_obstacle`
names what stops a prepared run (random draws, a key/value cache, guidance, ...). Rows share a
batch when their settings agree in everything but the answer length, block length and steps
(:func:`shared_settings`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import torch

from dllm_core.generation.commit import EntropyBoundCommit, FactorCommit, ThresholdCommit, TopKCommit
from dllm_core.generation.confidence import RandomConfidence
from dllm_core.generation.config import GenerationConfig
from dllm_core.generation.draws import DrawFrame
from dllm_core.generation.engine import commit_window
from dllm_core.generation.presets.base import Prepared
from dllm_core.generation.runner import kept_logits
from dllm_core.generation.tokens import GumbelChooser
from dllm_core.generation.transfer import LinearSplit, StepQuota, UntilDone, linear_split


def stepwise_obstacle(prepared: Prepared) -> str | None:
    """Why the prepared run cannot join a :class:`RunningBatch` (``None``: it can).

    Supported: greedy Gumbel token choice (temperature 0), a deterministic confidence, the
    top-k (without position temperature), threshold, factor or entropy-bound rule, the linear-split or
    until-done schedule, no key/value cache, no guidance, no logit shift, one plain row.
    """
    config, canvas = prepared.config, prepared.canvas
    tokens = config.tokens
    checks = (
        (canvas.tokens.shape[0] == 1 and canvas.attention_mask is None and canvas.position_ids is None,
         "the canvas is not one plain row"),
        (not prepared.capabilities.logit_shift, "the model shifts its logits"),
        (config.cache == "none", f"the {config.cache} key/value cache keeps per-block state"),
        (config.cfg_scale == 0, "classifier-free guidance doubles the batch"),
        (config.block_start_commit is None, "the block's first step has its own commit rule"),
        (type(config.transfer) in (LinearSplit, UntilDone), "the transfer schedule is not per row"),
        (isinstance(tokens, GumbelChooser) and tokens.temperature == 0, "tokens are sampled"),
        (not isinstance(config.confidence, RandomConfidence), "the commit order is random"),
        (type(config.commit) in (ThresholdCommit, FactorCommit, EntropyBoundCommit)
         or (type(config.commit) is TopKCommit and config.commit.position_temperature == 0),
         "the commit rule draws positions"),
    )
    return next((reason for ok, reason in checks if not ok), None)


def shared_settings(config: GenerationConfig) -> GenerationConfig:
    """``config`` without what each row of a running batch keeps for itself (block length, the
    schedule's step count): rows whose results are equal may share a batch."""
    transfer = LinearSplit(1) if isinstance(config.transfer, LinearSplit) else UntilDone()
    return replace(config, transfer=transfer, block_length=None)


@dataclass(frozen=True)
class RowStart:
    """A row as it joins: its own canvas and block layout.

    Attributes:
        tokens: ``[L]`` the canvas it has alone (prompt, then masks).
        region: ``(first mask, last mask + 1)`` in ``tokens``.
        answer_length: tokens after the prompt (the row's answer is the last ones of its canvas).
        block_length: its block length (the whole canvas without one).
        steps: steps per block; 0 for a schedule that runs each block until it is full.
    """

    tokens: torch.Tensor
    region: tuple[int, int]
    answer_length: int
    block_length: int
    steps: int

    @classmethod
    def of(cls, prepared: Prepared, prompt_length: int) -> "RowStart":
        """The row of a one-row run ``prepared`` (see :func:`stepwise_obstacle`) whose prompt
        takes its first ``prompt_length`` positions."""
        canvas, config = prepared.canvas, prepared.config
        width = canvas.tokens.shape[1]
        steps = config.transfer.steps if isinstance(config.transfer, LinearSplit) else 0
        return cls(canvas.tokens[0], (int(canvas.region_start[0]), int(canvas.region_end[0])),
                   width - prompt_length, config.block_length or width, steps)


class RunningBatch:
    """Rows of one setting (:func:`shared_settings`) denoised together (see the module doc).

    ``owners`` lists whatever the caller attached to each row, in row order. After
    :meth:`admit` or :meth:`step`, ``done [B]`` marks the finished rows: read their
    :meth:`answer` and drop them with :meth:`keep`.
    """

    def __init__(self, model: Any, config: GenerationConfig, capabilities: Any):
        self.model = model
        self.config = config
        self.counting = isinstance(config.transfer, LinearSplit)
        self.slice_logits = config.slice_logits and capabilities.logits_to_keep
        device = getattr(model, "device", torch.device("cpu"))
        empty = torch.zeros(0, dtype=torch.long, device=device)
        self.tokens = torch.zeros((0, 0), dtype=torch.long, device=device)  # [B, W]
        self.pad = empty  # [B] left padding of each row
        self.region_start, self.region_end = empty, empty  # [B] batch columns
        self.answer_length = empty  # [B]
        self.block_length, self.num_blocks, self.steps = empty, empty, empty  # [B]
        self.block, self.in_step, self.nfe = empty, empty, empty  # [B]
        self.counts = torch.zeros((0, 1), dtype=torch.long, device=device)  # [B, S] this block's plan
        self.done = torch.zeros(0, dtype=torch.bool, device=device)  # [B]
        self.owners: list[Any] = []

    def __len__(self) -> int:
        return len(self.owners)

    # -- rows joining and leaving ------------------------------------------------------------
    def admit(self, rows: Sequence[RowStart], owners: Sequence[Any]) -> None:
        """Add ``rows`` (owned by ``owners``); they take part from the next :meth:`step`."""
        device = self.tokens.device
        width = max([self.tokens.shape[1], *(int(row.tokens.shape[0]) for row in rows)])
        self._widen(width)
        lengths = torch.tensor([int(row.tokens.shape[0]) for row in rows], device=device)  # [b]
        pad = width - lengths  # [b]
        joined = torch.zeros((len(rows), width), dtype=torch.long, device=device)
        columns = torch.arange(width, device=device)
        joined[columns >= pad[:, None]] = torch.cat([row.tokens.to(device) for row in rows])
        region = torch.tensor([row.region for row in rows], device=device) + pad[:, None]  # [b, 2]
        block_length = torch.tensor([row.block_length for row in rows], device=device)
        span = region[:, 1] - region[:, 0]
        self.tokens = torch.cat([self.tokens, joined])
        self.pad = torch.cat([self.pad, pad])
        self.region_start = torch.cat([self.region_start, region[:, 0]])
        self.region_end = torch.cat([self.region_end, region[:, 1]])
        answer_length = torch.tensor([row.answer_length for row in rows], device=device)
        self.answer_length = torch.cat([self.answer_length, answer_length])
        self.block_length = torch.cat([self.block_length, block_length])
        self.num_blocks = torch.cat([self.num_blocks, (span + block_length - 1) // block_length])
        self.steps = torch.cat([self.steps, torch.tensor([row.steps for row in rows], device=device)])
        zeros = torch.zeros(len(rows), dtype=torch.long, device=device)
        self.block, self.in_step, self.nfe = (torch.cat([state, zeros])
                                              for state in (self.block, self.in_step, self.nfe))
        stages = max(int(self.steps.max()), 1)
        self.counts = torch.cat([self.counts, torch.zeros((len(rows), self.counts.shape[1]), dtype=torch.long,
                                                          device=device)])
        if stages > self.counts.shape[1]:
            self.counts = torch.nn.functional.pad(self.counts, (0, stages - self.counts.shape[1]))
        self.done = torch.cat([self.done, torch.zeros(len(rows), dtype=torch.bool, device=device)])
        self.owners.extend(owners)
        self._settle()

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows [B]`` (bool); padding no remaining row needs is dropped."""
        index = rows.nonzero().flatten()
        for name in ("tokens", "pad", "region_start", "region_end", "answer_length", "block_length",
                     "num_blocks", "steps", "block", "in_step", "nfe", "counts", "done"):
            setattr(self, name, getattr(self, name)[index])
        self.owners = [self.owners[i] for i in index.tolist()]
        trim = int(self.pad.min()) if len(self.owners) else self.tokens.shape[1]
        if trim:
            self.tokens = self.tokens[:, trim:]
            self._shift(-trim)

    def answer(self, row: int) -> list[int]:
        """The generated tokens of ``row`` (its canvas after the prompt)."""
        return self.tokens[row, self.tokens.shape[1] - int(self.answer_length[row]):].tolist()

    def answers(self) -> torch.Tensor:
        """``[B, T]`` each row's answer left-aligned (``T``: the longest; shorter ones end with
        what follows in the canvas, cut them at :attr:`answer_length`)."""
        width = self.tokens.shape[1]
        longest = int(self.answer_length.max())
        index = (width - self.answer_length[:, None] + torch.arange(longest, device=self.tokens.device))
        return self.tokens.gather(1, index.clamp(max=width - 1))

    def _widen(self, width: int) -> None:
        extra = width - self.tokens.shape[1]
        if extra > 0:
            self.tokens = torch.nn.functional.pad(self.tokens, (extra, 0))
            self._shift(extra)

    def _shift(self, columns: int) -> None:
        """The rows moved ``columns`` to the right (left padding added, or removed if negative)."""
        self.pad, self.region_start, self.region_end = (self.pad + columns, self.region_start + columns,
                                                        self.region_end + columns)

    # -- denoising ---------------------------------------------------------------------------
    def step(self) -> None:
        """One denoising step of every row not done (one model call); rows that finish are
        marked in :attr:`done`."""
        live = ~self.done  # [B]
        if not bool(live.any()):
            return
        masks, in_block, reach = self._layout()
        candidates = masks & reach & live[:, None]  # [B, W]
        quota = StepQuota()
        if self.counting:
            fresh = live & (self.in_step == 0)  # a block's plan counts its masks before its first step
            if bool(fresh.any()):
                split = linear_split((masks & in_block).sum(dim=1), self.steps.clamp(min=1))  # [B, S]
                self.counts = torch.where(fresh[:, None], split, self.counts[:, : split.shape[1]])
            quota = StepQuota(count=self.counts.gather(1, self.in_step[:, None]).squeeze(1))
        index = candidates.any(dim=0).nonzero().flatten()  # [n] columns where some row has a candidate
        window = candidates[:, index]  # [B, n]
        logits = self._logits(index)  # [B, n, V]
        frame = DrawFrame(0, self.tokens.shape[1], window_start=int(index[0]), candidates=window, columns=index)
        chosen, tokens = commit_window(logits, window, quota, self.config.commit, self.config, None, frame,
                                       open_ended=not self.counting)
        self.tokens[:, index] = torch.where(chosen, tokens, self.tokens[:, index])
        self.in_step = self.in_step + live
        self.nfe = self.nfe + live
        self._settle()

    def _logits(self, index: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n, V]`` of the columns ``index [n]`` of every row's canvas."""
        kwargs: dict[str, Any] = {"attention_mask": None}
        if bool(self.pad.any()):  # without padding every row's positions are the model's default 0..W-1
            columns = torch.arange(self.tokens.shape[1], device=self.tokens.device)
            kwargs["attention_mask"] = (columns >= self.pad[:, None]).long()  # [B, W]
            kwargs["position_ids"] = (columns - self.pad[:, None]).clamp(min=0)  # [B, W] each row's own
        return kept_logits(self.model, self.tokens, index, self.slice_logits, **kwargs)

    def _bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(start [B], end [B])`` of each row's current block (empty when ``start >= end``)."""
        start = self.region_start + self.block * self.block_length
        return start, torch.minimum(start + self.block_length, self.region_end)

    def _layout(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(masks, in_block, reach)``, each ``[B, W]``: the masked positions, the current
        block's positions, and where candidates may be (``carry_over_masks``: before the end)."""
        columns = torch.arange(self.tokens.shape[1], device=self.tokens.device)
        start, end = self._bounds()  # [B], [B]
        masks = (self.tokens == self.config.mask_token_id) & (columns >= self.pad[:, None])
        before_end = columns < end[:, None]
        in_block = (columns >= start[:, None]) & before_end
        return masks, in_block, before_end if self.config.carry_over_masks else in_block

    def _settle(self) -> None:
        """Move every row whose block is over to its next block (repeatedly: empty blocks are
        skipped), mark rows done after their last block or at EOS (see the module doc)."""
        config = self.config
        columns = torch.arange(self.tokens.shape[1], device=self.tokens.device)
        while True:  # each pass moves rows one block on, so it ends after the most blocks
            live = ~self.done
            masks, _, reach = self._layout()
            start, end = self._bounds()
            past = live & (self.block >= self.num_blocks)
            empty = live & ~past & (start >= end)
            spent = self.in_step >= self.steps if self.counting else torch.zeros_like(live)
            over = live & ~past & ~empty & (~(masks & reach).any(dim=1) | spent)
            ended = torch.zeros_like(over)
            if config.stop_at_eos:
                answered = (columns >= self.region_start[:, None]) & (columns < end[:, None])
                ended = over & (((self.tokens == config.eos_token_id) & answered).any(dim=1) | ~masks.any(dim=1))
                self.tokens.masked_fill_(ended[:, None] & masks, config.eos_token_id)
            self.done = self.done | past | ended
            moving = empty | (over & ~ended)
            if not bool(moving.any()):
                return
            self.block = self.block + moving
            self.in_step = torch.where(moving, 0, self.in_step)
