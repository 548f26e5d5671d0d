"""Step-level batching: jobs join running batches between denoising steps and leave when done.

A job whose run can be resumed row by row (the engine's deterministic runs without cache, e.g.
greedy ``llada`` or ``fastdllm`` with a threshold: see
:func:`~dllm_core.generation.running.stepwise_obstacle`) gets a
:func:`~dllm_core.serving.resumable.step_key`: its generator
and the settings its rows share, so rows with other prompt lengths, answer lengths, block
lengths or steps share a batch. The :class:`StepScheduler` keeps one
:class:`~dllm_core.generation.running.RunningBatch` per key; each :meth:`StepScheduler.tick`
(on the worker thread)

1. admits the jobs handed to it, each row prepared exactly as ``dllm sample`` prepares it alone
   (so each row gets the answer it gets alone);
2. drops the rows of jobs whose clients have gone (their rows leave before the step);
3. runs one step of every running batch, posts streaming progress, and posts a job's answers
   once its last row is done; finished rows leave the batch at once.

A step that raises ends its batch: its jobs are handed back to be run again, each alone, so
only the failing request gets the error.
"""

from __future__ import annotations

from typing import Hashable, Sequence

import torch

from dllm_core.generation.contract import Generation
from dllm_core.generation.running import RowStart, RunningBatch
from dllm_core.serving.api_errors import generation_error
from dllm_core.serving.jobs import Job
from dllm_core.serving.metrics import ServerMetrics
from dllm_core.serving.resumable import prepare_row
from dllm_core.serving.streaming import RowOwner, post_progress
from dllm_core.session import Completion


class StepScheduler:
    """The running batches of one server (see the module doc); used from the worker thread."""

    def __init__(self, metrics: ServerMetrics):
        self.metrics = metrics
        self._batches: dict[Hashable, RunningBatch] = {}
        self._answers: dict[int, list[Completion | None]] = {}  # per job (id), filled as rows finish

    @property
    def rows(self) -> int:
        """Rows in the running batches."""
        return sum(len(batch) for batch in self._batches.values())

    def tick(self, joining: Sequence[Job]) -> list[Job]:
        """Admit ``joining`` and run one step of every running batch (see the module doc);
        returns the jobs whose batch failed, to be run again alone."""
        for job in joining:
            self._admit(job)
        failed: list[Job] = []
        for key, batch in list(self._batches.items()):
            self._finish(batch)
            self._drop_gone(batch)
            if len(batch):
                try:
                    batch.step()
                except Exception:  # noqa: BLE001 - each job is retried alone, so only the failing one fails
                    jobs = list({id(owner.job): owner.job for owner in batch.owners}.values())
                    for job in jobs:
                        self._answers.pop(id(job), None)
                    failed.extend(jobs)
                    del self._batches[key]
                    continue
                self.metrics.batch_rows.observe(len(batch))
                if any(owner.job.stream for owner in batch.owners):
                    post_progress(batch.owners, batch.answers(), batch.answer_length, batch.config.mask_token_id,
                                  batch.nfe.tolist())
                self._finish(batch)
            if not len(batch):
                del self._batches[key]
        return failed

    def _admit(self, job: Job) -> None:
        try:
            prepared = [prepare_row(job.session, row, job.params) for row in job.rows]
        except Exception as exc:  # noqa: BLE001 - the job's own error
            job.post(("error", generation_error(exc)))
            return
        batch = self._batches.get(job.step_key)
        if batch is None:
            batch = self._batches[job.step_key] = RunningBatch(job.session.model, prepared[0].config,
                                                               prepared[0].capabilities)
        self._answers[id(job)] = [None] * len(job.rows)
        job.post(("started", None))
        batch.admit([RowStart.of(run, len(row)) for run, row in zip(prepared, job.rows)],
                    [RowOwner(job, choice) for choice in range(len(job.rows))])

    def _drop_gone(self, batch: RunningBatch) -> None:
        """Rows whose client has gone leave the batch."""
        gone = torch.tensor([owner.job.cancelled.is_set() for owner in batch.owners], dtype=torch.bool)
        if bool(gone.any()):
            for owner in (owner for owner, left in zip(batch.owners, gone.tolist()) if left):
                self._answers.pop(id(owner.job), None)
            batch.keep(~gone.to(batch.done.device))

    def _finish(self, batch: RunningBatch) -> None:
        """Hand the done rows their answers and take them out; a job is answered with its last row."""
        if not bool(batch.done.any()):
            return
        for row in batch.done.nonzero().flatten().tolist():
            owner = batch.owners[row]
            answers = self._answers.get(id(owner.job))
            if answers is None:
                continue
            generated, nfe, session = batch.answer(row), int(batch.nfe[row]), owner.job.session
            ids = session.cut_at_stop(generated)
            answers[owner.choice] = Completion(session.decode(ids), ids, nfe, Generation([generated], nfe), 0)
            if all(answer is not None for answer in answers):
                owner.job.post(("done", answers))
                del self._answers[id(owner.job)]
        batch.keep(~batch.done)
