"""The batcher: one worker thread runs the queued jobs, step by step where it can.

Jobs wait in a FIFO queue. A job with a ``step_key`` (a deterministic run the engine can resume
row by row: :mod:`~dllm_core.serving.stepping`) joins the running batch of its key at the next
denoising step, with other prompt lengths, answer lengths, block lengths and steps; its rows
leave as soon as they are done, or at the next step when its client has gone. The worker
admits the queued jobs that fit (``max_batch`` rows in all running batches, in queue order),
then runs steps of every running batch until a job is queued (which is then admitted, or run,
before the next step). When it is idle and the queue holds less
than a full batch it first waits ``batch_wait`` seconds, so that requests sent together start
together.

Every other job (sampled runs, key/value caches, block diffusion, plugins' generators) is
batched whole when it reaches the head of the queue, between two steps: it takes the queued
jobs with the same ``batch_key`` (same generator and parameters, no random draws: see
:mod:`~dllm_core.serving.determinism`) and runs them as one call of
:meth:`InferenceSession.generate`; a job that draws random numbers runs alone, seeded as
``dllm sample`` seeds it. Such a batch stops at the next step when all its clients have gone.

A job whose batch raises is run again alone (answers do not depend on batch composition), so
only the failing request gets the error. :meth:`drain` finishes every queued and running job,
then stops the worker.
"""

from __future__ import annotations

import asyncio
import collections
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dllm_core.serving.api_errors import ApiError, generation_error
from dllm_core.serving.jobs import Job
from dllm_core.serving.metrics import ServerMetrics
from dllm_core.serving.stepping import StepScheduler
from dllm_core.serving.streaming import Abandoned, BatchWatcher, RowOwner

RETRY_AFTER_SECONDS = 1


class Batcher:
    """Queue and worker (see the module doc). Start with :meth:`start` inside the event loop."""

    def __init__(self, metrics: ServerMetrics, *, max_batch: int, max_queue: int, batch_wait: float = 0.0):
        self.metrics = metrics
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.batch_wait = batch_wait
        self._queue: collections.deque[Job] = collections.deque()
        self._ready = asyncio.Event()
        self._closing = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dllm-generate")
        self.steps = StepScheduler(metrics)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._work())

    def submit(self, job: Job) -> None:
        """Queue ``job``; a full queue is a 429 with ``Retry-After``, a draining server a 503."""
        if self._closing:
            raise ApiError(503, "the server is shutting down; retry against another instance", code="shutting_down")
        if self._queued_rows() + len(job.rows) > self.max_queue:
            raise ApiError(429, f"the queue is full ({self.max_queue} answers waiting); retry after "
                                f"{RETRY_AFTER_SECONDS} s or raise --max-queue", code="queue_full",
                           headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        self._queue.append(job)
        self._update_queue_metrics()
        self._ready.set()

    async def drain(self) -> None:
        """Finish every queued and running job, then stop the worker."""
        self._closing = True
        self._ready.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    # -- worker ------------------------------------------------------------------------------
    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.steps.rows:
                await self._ready.wait()
                if self.batch_wait > 0 and 0 < self._queued_rows() < self.max_batch and not self._closing:
                    await asyncio.sleep(self.batch_wait)  # let requests sent together arrive together
            self._drop_gone_head()
            head = self._queue[0] if self._queue else None
            if head is not None and head.step_key is None:
                await loop.run_in_executor(self._executor, self._run, self._take_group())
                continue
            joining = self._take_joining()
            if not joining and not self.steps.rows:
                if self._closing and not self._queue:
                    return
                self._ready.clear()
                continue
            failed = await loop.run_in_executor(self._executor, self._tick, joining)
            for job in failed:
                await loop.run_in_executor(self._executor, self._run, [job])

    def _drop_gone_head(self) -> None:
        while self._queue and self._queue[0].cancelled.is_set():
            self._queue.popleft()
        self._update_queue_metrics()

    def _take_group(self) -> list[Job]:
        """The head job (no ``step_key``) and the queued jobs that may share its batch."""
        first = self._queue.popleft()
        batch, rows = [first], len(first.rows)
        if first.batch_key is not None:
            for job in list(self._queue):
                if job.batch_key == first.batch_key and not job.cancelled.is_set() \
                        and rows + len(job.rows) <= self.max_batch:
                    self._queue.remove(job)
                    batch.append(job)
                    rows += len(job.rows)
        self._update_queue_metrics()
        return batch

    def _take_joining(self) -> list[Job]:
        """Queued jobs with a ``step_key``, from the head on, while they fit into the running
        batches (stops at a job that does not fit or has no key: it waits its turn)."""
        joining, room = [], self.max_batch - self.steps.rows
        while self._queue and self._queue[0].step_key is not None:
            job = self._queue[0]
            if job.cancelled.is_set():
                self._queue.popleft()
                continue
            if len(job.rows) > room:
                break
            joining.append(self._queue.popleft())
            room -= len(job.rows)
        self._update_queue_metrics()
        return joining

    def _tick(self, joining: list[Job]) -> list[Job]:
        """Admit ``joining`` and run steps of the running batches (worker thread) until the queue
        holds a job (it may join or run at the next step), a batch fails or no row is left."""
        failed = self.steps.tick(joining)
        while self.steps.rows and not failed and not self._queue and not self._closing:
            failed = self.steps.tick(())
        self.metrics.occupancy.set(self.steps.rows / self.max_batch)
        return failed

    def _run(self, batch: list[Job]) -> None:
        """Generate ``batch`` (worker thread); results and errors go to each job's events."""
        first = batch[0]
        session, params = first.session, first.params
        owned = [(row, RowOwner(job, choice)) for job in batch for choice, row in enumerate(job.rows)]
        owned.sort(key=lambda pair: -len(pair[0]))  # the session's order: its batch is these rows as given
        rows = [row for row, _ in owned]
        owners = [owner for _, owner in owned]
        watcher = BatchWatcher(owners, rows, session.answer_length(params), session.generator.ragged_rows,
                               session.special.mask_token_id)
        self.metrics.batch_rows.observe(len(rows))
        self.metrics.occupancy.set(len(rows) / self.max_batch)
        try:
            completions = session.generate(rows, params, seed=first.seed, callback=watcher)
        except Abandoned:
            return
        except Exception as exc:  # noqa: BLE001 - a failing request must fail alone
            if len(batch) > 1:
                for job in batch:
                    self._run([job])
            else:
                first.post(("error", generation_error(exc)))
            return
        finally:
            self.metrics.occupancy.set(self.steps.rows / self.max_batch)
        results: dict[int, list[Any]] = {id(job): [None] * len(job.rows) for job in batch}
        for owner, completion in zip(owners, completions):
            results[id(owner.job)][owner.choice] = completion
        for job in batch:
            job.post(("done", results[id(job)]))

    def _queued_rows(self) -> int:
        return sum(len(job.rows) for job in self._queue if not job.cancelled.is_set())

    def _update_queue_metrics(self) -> None:
        self.metrics.queue_rows.set(self._queued_rows())
        self.metrics.queue_jobs.set(sum(1 for job in self._queue if not job.cancelled.is_set()))
