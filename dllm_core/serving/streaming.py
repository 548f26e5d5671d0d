"""What a running batch tells its clients after every denoising step.

:class:`BatchWatcher` is the generator's step callback for one batch. From the live canvas
``tokens [B, L]`` it cuts every row's answer window ``[B, T]`` (one gather), finds each row's
committed prefix (the answer up to its first mask, one ``argmax`` over the batch) and hands the
jobs that stream

* a ``("text", choice, prefix_ids)`` event when a row's committed prefix grew (text arrives in
  order as blocks complete; the handler turns ids into text deltas with :class:`TextStream`);
* with ``denoising``, a ``("canvas", choice, ids, nfe)`` event per row (``None`` for a mask).

When every job of the batch has gone (clients disconnected) it raises :class:`Abandoned`, which
ends the batch at that step. :func:`post_progress` does the posting, for these batches and for
the rows of a running batch (:mod:`~dllm_core.serving.stepping`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from dllm_core.serving.jobs import Job


class Abandoned(Exception):
    """Every client of a batch has gone; the batch stops."""


@dataclass
class RowOwner:
    """Row ``choice`` of ``job`` sits at a batch row; ``sent``: its committed prefix already reported."""

    job: Job
    choice: int
    sent: int = 0


def post_progress(owners: Sequence[RowOwner], answers: torch.Tensor, lengths: torch.Tensor, mask_id: int,
                  nfe: Sequence[int | None]) -> None:
    """Tell the streaming jobs of ``owners`` how their rows look after a step.

    ``answers [B, T]``: each row's answer window of the canvas, of which the first ``lengths [B]``
    tokens are its own; ``nfe``: each row's forward calls so far. Posts ``("text", (choice,
    prefix_ids))`` when a row's committed prefix grew and, with ``denoising``, ``("canvas", ...)``.
    """
    if not any(owner.job.stream for owner in owners):
        return
    answers, lengths = answers.detach().cpu(), lengths.cpu()
    columns = torch.arange(answers.shape[1])
    masked = (answers == mask_id) & (columns < lengths[:, None])  # [B, T]
    prefix = torch.where(masked.any(dim=1), masked.int().argmax(dim=1), lengths)  # [B]
    for row, owner in enumerate(owners):
        job = owner.job
        if not job.stream or job.cancelled.is_set():
            continue
        if int(prefix[row]) > owner.sent:
            owner.sent = int(prefix[row])
            job.post(("text", (owner.choice, answers[row, : owner.sent].tolist())))
        if job.denoising:
            ids = answers[row, : int(lengths[row])].tolist()
            job.post(("canvas", (owner.choice, [None if masked[row, i] else t for i, t in enumerate(ids)], nfe[row])))


class BatchWatcher:
    """The step callback of one batch (see the module doc)."""

    def __init__(self, owners: Sequence[RowOwner], rows: Sequence[Sequence[int]], answer_length: int | None,
                 ragged: bool, mask_id: int):
        self.owners = list(owners)
        self.jobs = list({id(owner.job): owner.job for owner in owners}.values())
        widest = max(len(row) for row in rows)
        # the answer starts after each row's own prompt (ragged rows) or after the left-padded prompts
        self.starts = torch.tensor([len(row) if ragged else widest for row in rows])  # [B]
        self.length = answer_length
        self.mask_id = mask_id
        self.started = False

    def __call__(self, info: Any) -> None:
        if all(job.cancelled.is_set() for job in self.jobs):
            raise Abandoned
        if not self.started:
            self.started = True
            for job in self.jobs:
                job.post(("started", None))
        tokens = getattr(info, "tokens", None)
        if isinstance(tokens, torch.Tensor) and any(job.stream for job in self.jobs):
            answers = self._answers(tokens.detach().cpu())  # [B, T]
            post_progress(self.owners, answers, torch.full((len(self.owners),), answers.shape[1]), self.mask_id,
                          [getattr(info, "nfe", None)] * len(self.owners))

    def _answers(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` each row's answer window of the canvas ``tokens [B, L]``."""
        width = tokens.shape[1]
        length = self.length if self.length is not None else width - int(self.starts.max())
        index = (self.starts[:, None] + torch.arange(length)[None, :]).clamp(max=width - 1)  # [B, T]
        return tokens.gather(1, index)


def cut_at_stop_strings(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` before the earliest of ``stops``, and whether one occurred."""
    found = [text.find(stop) for stop in stops if stop in text]
    return (text[: min(found)], True) if found else (text, False)


class TextStream:
    """Turns successive decodings of one answer into in-order text deltas.

    Text that could be the start of a stop string is held back until it can be told apart;
    a decoding that rewrites text already sent (a multi-byte character split across tokens) waits
    for the next one.
    """

    def __init__(self, stops: Sequence[str]):
        self.stops = list(stops)
        self.hold = max((len(stop) for stop in self.stops), default=1) - 1
        self.sent = ""
        self.stopped = False

    def delta(self, text: str, final: bool = False) -> str:
        """The new text to send after the answer decoded to ``text`` (``final``: the whole answer)."""
        if self.stopped:
            return ""
        visible, self.stopped = cut_at_stop_strings(text, self.stops)
        if not (self.stopped or final) and self.hold:
            visible = visible[: max(len(visible) - self.hold, 0)]
        if not visible.startswith(self.sent):
            return ""
        new, self.sent = visible[len(self.sent):], visible
        return new
