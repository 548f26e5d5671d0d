"""The dynamic batcher: compatible jobs share a batch and answer as they do alone, sampled jobs
run alone, a failing job fails alone, gone clients free the queue and the worker."""

from __future__ import annotations

import asyncio
import threading

import pytest

from dllm_core.serving.batcher import Batcher
from dllm_core.serving.determinism import draws_random_numbers
from dllm_core.serving.jobs import Job, SessionPool, build_job
from dllm_core.serving.metrics import ServerMetrics
from dllm_core.serving.schemas import CompletionRequest

PROMPTS = ["1200\n3400\n0000\n4321", "12", "1234\n3412\n2143\n43", "4", "31\n13"]


def request(prompt, **extra):
    return CompletionRequest(prompt=prompt, max_tokens=8, dllm={"steps": 8, "block_length": 4, **extra.pop("dllm", {})},
                             **extra)


async def run_jobs(jobs_of, *, max_batch=16, cancel_after_start=False):
    """Submit every job before the worker starts; ``(final event per job, batch sizes)``."""
    metrics = ServerMetrics()
    batcher = Batcher(metrics, max_batch=max_batch, max_queue=256)
    jobs = jobs_of()
    for job in jobs:
        batcher.submit(job)
    batcher.start()
    finals = []
    for job in jobs:
        while True:
            kind, value = await asyncio.wait_for(job.events.get(), timeout=120)
            if kind == "started" and cancel_after_start:
                job.cancelled.set()
                break
            if kind in ("done", "error"):
                finals.append((kind, value))
                break
    await batcher.drain()
    return finals, (sample(metrics.batch_rows, "_count"), sample(metrics.batch_rows, "_sum"))


def test_greedy_jobs_share_one_batch_and_answer_as_alone(session):
    pool = SessionPool(session)
    finals, (batches, rows) = asyncio.run(run_jobs(
        lambda: [build_job(pool, request(p), [p], max_batch=16) for p in PROMPTS]))
    assert (batches, rows) == (1, len(PROMPTS))
    params = session.params(roles={"length": 8, "steps": 8, "block": 4})
    alone = [session.complete([p], params)[0].token_ids for p in PROMPTS]
    assert [value[0].token_ids for _, value in finals] == alone


def test_fast_generator_with_dual_cache_batches_exactly(session):
    pool = SessionPool(session)
    extra = {"dllm": {"cache": "dual", "threshold": 0.3}}
    finals, (batches, _) = asyncio.run(run_jobs(
        lambda: [build_job(pool, request(p, **extra), [p], max_batch=16) for p in PROMPTS]))
    assert batches == 1
    fast = session.with_generator("fastdllm")
    params = fast.params(roles={"length": 8, "steps": 8, "block": 4}, values={"use_cache": "dual", "threshold": 0.3})
    assert [value[0].token_ids for _, value in finals] == [fast.complete([p], params)[0].token_ids for p in PROMPTS]


def test_batches_respect_max_batch_and_different_settings_do_not_mix(session):
    pool = SessionPool(session)

    def jobs():
        same = [build_job(pool, request(p), [p], max_batch=16) for p in PROMPTS]
        return same + [build_job(pool, request("12", dllm={"steps": 4}), ["12"], max_batch=16)]

    _, (batches, rows) = asyncio.run(run_jobs(jobs, max_batch=3))
    assert (batches, rows) == (3, 6)  # 3 + 2 rows of the same settings, then the other job alone


def test_sampled_jobs_run_alone_seeded_as_dllm_sample(session):
    pool = SessionPool(session)
    finals, (batches, _) = asyncio.run(run_jobs(
        lambda: [build_job(pool, request(p, temperature=1.0, seed=3), [p], max_batch=16) for p in PROMPTS[:3]]))
    assert batches == 3
    params = session.params(roles={"length": 8, "steps": 8, "block": 4}, values={"temperature": 1.0})
    assert [v[0].token_ids for _, v in finals] == [session.complete([p], params, seed=3)[0].token_ids
                                                   for p in PROMPTS[:3]]


def test_a_failing_job_fails_alone(session):
    pool = SessionPool(session)

    def jobs():
        made = [build_job(pool, request(p), [p], max_batch=16) for p in PROMPTS[:3]]
        broken = build_job(pool, request("1"), ["1"], max_batch=16)
        broken.rows = [[10_000_000]]  # a token id outside the vocabulary: the model call raises
        return made[:1] + [broken] + made[1:]

    finals, _ = asyncio.run(run_jobs(jobs))
    assert [kind for kind, _ in finals] == ["done", "error", "done", "done"]
    assert finals[1][1].status == 500 and "IndexError" in finals[1][1].message


def test_gone_clients_leave_the_queue_and_stop_their_batch(session):
    pool = SessionPool(session)
    forwards, release = [], threading.Event()

    def hold_second_call(module, args):  # the worker waits at its 2nd forward until the client has gone
        forwards.append(1)
        if len(forwards) == 2:
            release.wait(timeout=60)

    async def scenario():
        metrics = ServerMetrics()
        batcher = Batcher(metrics, max_batch=16, max_queue=256)
        queued_then_gone, running_then_gone, after = (
            build_job(pool, request(p, dllm={"steps": s}), [p], max_batch=16)
            for p, s in (("12", 8), ("21", 4), ("3", 2)))
        queued_then_gone.cancelled.set()
        for job in (queued_then_gone, running_then_gone, after):
            batcher.submit(job)
        batcher.start()
        assert (await running_then_gone.events.get())[0] == "started"
        running_then_gone.cancelled.set()
        release.set()
        final = None
        while final is None or final[0] == "started":
            final = await asyncio.wait_for(after.events.get(), timeout=60)
        await batcher.drain()
        return queued_then_gone, running_then_gone, final, metrics

    handle = session.model.register_forward_pre_hook(hold_second_call)
    try:
        gone, stopped, final, metrics = asyncio.run(scenario())
    finally:
        handle.remove()
    assert gone.events.empty()  # never ran
    assert final[0] == "done"
    events = []
    while not stopped.events.empty():
        events.append(stopped.events.get_nowait()[0])
    assert "done" not in events  # its batch stopped at the step after the client left
    assert len(forwards) == 2 + 2  # 2 forwards of the stopped batch (of 4), 2 of the next job
    assert sample(metrics.batch_rows, "_count") == 2  # two batches ran, not three


def sample(histogram, suffix):
    return next(s.value for s in histogram.collect()[0].samples if s.name.endswith(suffix))


def test_only_the_cores_generators_without_random_draws_are_batched(session):
    greedy = session.params()
    assert not draws_random_numbers("llada", greedy)
    assert draws_random_numbers("llada", session.params(values={"temperature": 0.5}))
    assert draws_random_numbers("llada", session.params(values={"remasking": "random"}))
    assert draws_random_numbers("editflow", greedy)  # a plugin's generator: never assumed batchable
    assert draws_random_numbers("no-such-generator", greedy)
