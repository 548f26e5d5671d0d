"""The dynamic batcher: one worker thread runs batches of compatible queued jobs.

Jobs wait in a FIFO queue. When the worker is free it takes the oldest job and every queued job
with the same ``batch_key`` (same generator and parameters, no random draws: see
:mod:`~dllm_core.serving.determinism`), up to ``max_batch`` rows (waiting ``batch_wait`` seconds
first when the queue holds less than a full batch, so that requests sent together share one), and runs them as one call of
:meth:`InferenceSession.generate` -- every step of the engine works on the whole batch at once.
Jobs that arrive while a batch runs wait for the next batch (this is request-level batching, not
joining a running batch between steps).

A job whose client has gone is dropped from the queue; a running batch stops at the next step
when all its clients have gone. When a batch raises, each of its jobs is retried alone (answers do
not depend on batch composition), so only the failing request gets the error. :meth:`drain`
finishes every queued job, then stops the worker.
"""

from __future__ import annotations

import asyncio
import collections
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dllm_core.errors import DllmError
from dllm_core.serving.api_errors import ApiError
from dllm_core.serving.jobs import Job
from dllm_core.serving.metrics import ServerMetrics
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
            await self._ready.wait()
            if self.batch_wait > 0 and 0 < self._queued_rows() < self.max_batch and not self._closing:
                await asyncio.sleep(self.batch_wait)  # let requests sent together arrive together
            batch = self._take()
            if not batch:
                if self._closing:
                    return
                self._ready.clear()
                continue
            await loop.run_in_executor(self._executor, self._run, batch)

    def _take(self) -> list[Job]:
        """The oldest live job and the queued jobs that may share its batch."""
        while self._queue and self._queue[0].cancelled.is_set():
            self._queue.popleft()
        if not self._queue:
            self._update_queue_metrics()
            return []
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
                first.post(("error", _api_error(exc)))
            return
        finally:
            self.metrics.occupancy.set(0)
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


def _api_error(exc: Exception) -> ApiError:
    """Settings the generator refuses are the client's error (400); anything else is ours (500)."""
    if isinstance(exc, (DllmError, ValueError)):
        return ApiError(400, f"the generator refused these settings: {exc}", param="dllm")
    return ApiError(500, f"generation failed ({type(exc).__name__}: {exc}); the server goes on serving",
                    code="generation_failed")
