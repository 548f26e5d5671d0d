"""What a running batch tells its clients after every denoising step.

:class:`BatchWatcher` is the generator's step callback for one batch. From the live canvas
``tokens [B, L]`` it cuts every row's answer window ``[B, T]`` (one gather), finds each row's
committed prefix (the answer up to its first mask, one ``argmax`` over the batch) and hands the
jobs that stream

* a ``("text", choice, prefix_ids)`` event when a row's committed prefix grew (text arrives in
  order as blocks complete; the handler turns ids into text deltas with :class:`TextStream`);
* with ``denoising``, a ``("canvas", choice, ids, nfe)`` event per row (``None`` for a mask).

When every job of the batch has gone (clients disconnected) it raises :class:`Abandoned`, which
ends the batch at that step.
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
    """Row ``choice`` of ``job`` sits at a batch row."""

    job: Job
    choice: int


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
        self.sent = [0] * len(rows)  # committed prefix length already reported, per row
        self.started = False

    def __call__(self, info: Any) -> None:
        if all(job.cancelled.is_set() for job in self.jobs):
            raise Abandoned
        if not self.started:
            self.started = True
            for job in self.jobs:
                job.post(("started", None))
        tokens = getattr(info, "tokens", None)
        if not isinstance(tokens, torch.Tensor) or not any(job.stream for job in self.jobs):
            return
        answers = self._answers(tokens.detach().cpu())  # [B, T]
        masked = answers == self.mask_id  # [B, T]
        prefix = torch.where(masked.any(dim=1), masked.int().argmax(dim=1), answers.shape[1])  # [B]
        for row, owner in enumerate(self.owners):
            job = owner.job
            if not job.stream or job.cancelled.is_set():
                continue
            if int(prefix[row]) > self.sent[row]:
                self.sent[row] = int(prefix[row])
                job.post(("text", (owner.choice, answers[row, : self.sent[row]].tolist())))
            if job.denoising:
                ids = answers[row].tolist()
                job.post(("canvas", (owner.choice, [None if masked[row, i] else t for i, t in enumerate(ids)],
                                     getattr(info, "nfe", None))))

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
