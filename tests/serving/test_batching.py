"""The batcher: deterministic jobs join a running batch between steps (other prompt lengths,
answer lengths, blocks and steps) and leave when done or gone, each answering as it does alone;
sampled and cached jobs are batched whole; a failing job fails alone."""

from __future__ import annotations

import asyncio
import threading

import pytest

from dllm_core.serving.batcher import Batcher
from dllm_core.serving.determinism import draws_random_numbers
from dllm_core.serving.jobs import SessionPool, build_job
from dllm_core.serving.metrics import ServerMetrics
from dllm_core.serving.schemas import CompletionRequest

PROMPTS = ["1200\n3400\n0000\n4321", "12", "1234\n3412\n2143\n43", "4", "31\n13"]


def request(prompt, length=8, **extra):
    settings = {"steps": 8, "block_length": 4, **extra.pop("dllm", {})}
    return CompletionRequest(prompt=prompt, max_tokens=length, dllm=settings, **extra)


def alone(session, prompt, length=8, steps=8, block=4, generator=None, **values):
    """What ``dllm sample`` answers for ``prompt`` by itself."""
    chosen = session.with_generator(generator) if generator else session
    params = chosen.params(roles={"length": length, "steps": steps, "block": block}, values=values)
    return chosen.complete([prompt], params)[0].token_ids


class Forwards:
    """Records the batch size of every model call; ``on_call[k]`` runs (worker thread) at call k."""

    def __init__(self, model, on_call=None):
        self.sizes, self.on_call = [], on_call or {}
        self.handle = model.register_forward_pre_hook(self)

    def __call__(self, module, args):
        self.sizes.append(args[0].shape[0])
        if len(self.sizes) in self.on_call:
            self.on_call[len(self.sizes)]()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.remove()


async def finals_of(jobs):
    """The final event of each job (``done`` / ``error``), in the order they arrive."""
    order, finals = [], {}

    async def wait(job):
        while True:
            kind, value = await asyncio.wait_for(job.events.get(), timeout=120)
            if kind in ("done", "error"):
                order.append(job)
                finals[id(job)] = (kind, value)
                return

    await asyncio.gather(*(wait(job) for job in jobs))
    return [finals[id(job)] for job in jobs], order


async def run(jobs_of, *, max_batch=16, late=None):
    """Submit ``jobs_of()`` before the worker starts; ``late(batcher)`` may submit more (from a
    forward hook). Returns ``(final events of every job submitted, completion order, metrics)``."""
    metrics = ServerMetrics()
    batcher = Batcher(metrics, max_batch=max_batch, max_queue=256)
    jobs = jobs_of()
    for job in jobs:
        batcher.submit(job)
    if late is not None:
        jobs += late(batcher)
    batcher.start()
    finals, order = await finals_of(jobs)
    await batcher.drain()
    return finals, order, metrics


def tokens(finals):
    return [value[0].token_ids for kind, value in finals]


def test_greedy_jobs_share_one_running_batch_and_answer_as_alone(session):
    pool = SessionPool(session)
    with Forwards(session.model) as forwards:
        finals, _, _ = asyncio.run(run(lambda: [build_job(pool, request(p), [p], max_batch=16) for p in PROMPTS]))
    assert forwards.sizes[0] == len(PROMPTS)  # one step of all of them
    assert tokens(finals) == [alone(session, p) for p in PROMPTS]


def test_rows_with_other_lengths_blocks_and_steps_share_a_batch_and_answer_as_alone(session):
    pool = SessionPool(session)
    shapes = [(8, 8, 4), (12, 6, 4), (4, 4, 4), (16, 8, 8), (6, 3, 2)]  # (answer length, steps, block)
    with Forwards(session.model) as forwards:
        finals, _, _ = asyncio.run(run(lambda: [
            build_job(pool, request(p, length, dllm={"steps": steps, "block_length": block}), [p], max_batch=16)
            for p, (length, steps, block) in zip(PROMPTS, shapes)]))
    assert forwards.sizes[0] == len(PROMPTS)
    assert tokens(finals) == [alone(session, p, *shape) for p, shape in zip(PROMPTS, shapes)]


def test_a_request_joins_the_running_batch_mid_way_and_answers_as_alone(session):
    pool = SessionPool(session)
    first, second = PROMPTS[0], PROMPTS[2]

    def late(batcher):  # the second request arrives while the first runs its 3rd step
        job = build_job(pool, request(second, 12, dllm={"steps": 12}), [second], max_batch=16)

        async def submit():
            batcher.submit(job)

        forwards.on_call[3] = lambda: asyncio.run_coroutine_threadsafe(submit(), job.loop).result(timeout=60)
        return [job]

    with Forwards(session.model) as forwards:
        finals, _, _ = asyncio.run(run(lambda: [build_job(pool, request(first, 16, dllm={"steps": 16}), [first],
                                                          max_batch=16)], late=late))
    assert forwards.sizes[:4] == [1, 1, 1, 2]  # it joined at the next step
    assert tokens(finals) == [alone(session, first, 16, 16), alone(session, second, 12, 12)]


def test_a_finished_row_leaves_at_once_and_a_waiting_job_takes_its_place(session):
    pool = SessionPool(session)
    with Forwards(session.model) as forwards:
        finals, order, _ = asyncio.run(run(lambda: [
            build_job(pool, request(PROMPTS[0], 16, dllm={"steps": 16}), [PROMPTS[0]], max_batch=2),
            build_job(pool, request(PROMPTS[1], 4, dllm={"steps": 2}), [PROMPTS[1]], max_batch=2),
            build_job(pool, request(PROMPTS[3], 4, dllm={"steps": 4}), [PROMPTS[3]], max_batch=2)], max_batch=2))
    short_steps = alone_nfe(session, PROMPTS[1], 4, 2)
    assert max(forwards.sizes) == 2  # --max-batch 2: the third waits for a free row
    assert forwards.sizes[short_steps] == 2  # the third joined as soon as the short one left
    assert [job.rows[0] for job in order][-1] == session.encode(PROMPTS[0])  # the long one ends last
    assert tokens(finals) == [alone(session, PROMPTS[0], 16, 16), alone(session, PROMPTS[1], 4, 2),
                              alone(session, PROMPTS[3], 4, 4)]


def alone_nfe(session, prompt, length, steps, block=4):
    params = session.params(roles={"length": length, "steps": steps, "block": block})
    return session.complete([prompt], params)[0].nfe


def test_a_gone_client_frees_its_row_at_the_next_step(session):
    pool = SessionPool(session)
    made = {}

    async def scenario():
        jobs = made["jobs"] = [build_job(pool, request(p, 16, dllm={"steps": 16}), [p], max_batch=16)
                               for p in PROMPTS[:2]]
        queued_then_gone = made["gone"] = build_job(pool, request(PROMPTS[2]), [PROMPTS[2]], max_batch=16)
        queued_then_gone.cancelled.set()
        batcher = Batcher(ServerMetrics(), max_batch=16, max_queue=256)
        for job in (*jobs, queued_then_gone):
            batcher.submit(job)
        batcher.start()
        finals, _ = await finals_of(jobs[:1])
        await batcher.drain()
        return finals

    with Forwards(session.model, on_call={2: lambda: made["jobs"][1].cancelled.set()}) as forwards:  # leaves in step 2
        finals = asyncio.run(scenario())
    assert forwards.sizes[:3] == [2, 2, 1]
    assert tokens(finals) == [alone(session, PROMPTS[0], 16, 16)]
    assert made["gone"].events.empty()  # never ran
    assert made["jobs"][1].events.qsize() == 1  # only "started": no answer


def test_64_jobs_with_mixed_settings_answer_as_alone(session):
    pool = SessionPool(session)
    prompts = [f"{i % 4 + 1}{i % 3}\n" for i in range(64)]  # 12 distinct (prompt, settings) pairs
    shapes = [(4, 4, 4), (4, 2, 2), (6, 3, 2), (8, 4, 4)]
    with Forwards(session.model) as forwards:
        finals, _, _ = asyncio.run(run(lambda: [
            build_job(pool, request(p, length, dllm={"steps": steps, "block_length": block}), [p], max_batch=64)
            for i, p in enumerate(prompts) for length, steps, block in [shapes[i % 4]]], max_batch=64))
    assert forwards.sizes[0] == 64
    cache = {}
    want = [cache.setdefault((p, shapes[i % 4]), alone(session, p, *shapes[i % 4])) for i, p in enumerate(prompts)]
    assert tokens(finals) == want


def test_fast_generator_rules_run_step_by_step_and_answer_as_alone(session):
    pool = SessionPool(session)
    settings = [{"threshold": 0.3}, {"threshold": 0.3, "block_length": 8}, {"params": {"factor": 1.0}},
                {"params": {"entropy_bound": 0.5}}]
    with Forwards(session.model) as forwards:
        finals, _, _ = asyncio.run(run(lambda: [build_job(pool, request(p, dllm=extra), [p], max_batch=16)
                                                for p in PROMPTS[:3] for extra in settings]))
    assert forwards.sizes[:3] == [6, 3, 3]  # the threshold rows share a batch; each other rule has its own
    assert tokens(finals) == [answer for p in PROMPTS[:3] for answer in
                              (alone(session, p, generator="fastdllm", threshold=0.3),
                               alone(session, p, block=8, generator="fastdllm", threshold=0.3),
                               alone(session, p, generator="fastdllm", factor=1.0),
                               alone(session, p, generator="fastdllm", entropy_bound=0.5))]


def test_cached_jobs_are_batched_whole_and_exactly(session):
    pool = SessionPool(session)
    extra = {"dllm": {"cache": "dual", "threshold": 0.3}}
    with Forwards(session.model) as forwards:
        finals, _, metrics = asyncio.run(run(lambda: [build_job(pool, request(p, **extra), [p], max_batch=16)
                                                      for p in PROMPTS]))
    assert forwards.sizes[0] == len(PROMPTS) and sample(metrics.batch_rows, "_count") == 1
    assert tokens(finals) == [alone(session, p, generator="fastdllm", use_cache="dual", threshold=0.3)
                              for p in PROMPTS]


def test_sampled_jobs_run_alone_seeded_as_dllm_sample(session):
    pool = SessionPool(session)
    finals, _, metrics = asyncio.run(run(
        lambda: [build_job(pool, request(p, temperature=1.0, seed=3), [p], max_batch=16) for p in PROMPTS[:3]]))
    assert sample(metrics.batch_rows, "_count") == 3
    params = session.params(roles={"length": 8, "steps": 8, "block": 4}, values={"temperature": 1.0})
    assert tokens(finals) == [session.complete([p], params, seed=3)[0].token_ids for p in PROMPTS[:3]]


def test_a_failing_job_fails_alone(session):
    pool = SessionPool(session)

    def jobs():
        made = [build_job(pool, request(p), [p], max_batch=16) for p in PROMPTS[:3]]
        broken = build_job(pool, request("1"), ["1"], max_batch=16)
        broken.rows = [[10_000_000]]  # a token id outside the vocabulary: the model call raises
        return made[:1] + [broken] + made[1:]

    finals, _, _ = asyncio.run(run(jobs))
    assert [kind for kind, _ in finals] == ["done", "error", "done", "done"]
    assert finals[1][1].status == 500 and "IndexError" in finals[1][1].message
    assert [value[0].token_ids for kind, value in finals if kind == "done"] == [alone(session, p) for p in PROMPTS[:3]]


def test_a_gone_client_stops_a_whole_batch_at_the_next_step(session):
    pool = SessionPool(session)
    release = threading.Event()

    async def scenario():
        sampled = build_job(pool, request("21", 8, temperature=1.0), ["21"], max_batch=16)
        batcher = Batcher(ServerMetrics(), max_batch=16, max_queue=256)
        batcher.submit(sampled)
        batcher.start()
        assert (await sampled.events.get())[0] == "started"
        sampled.cancelled.set()
        release.set()
        await batcher.drain()
        return sampled

    with Forwards(session.model, on_call={2: lambda: release.wait(timeout=60)}) as forwards:
        sampled = asyncio.run(scenario())
    assert len(forwards.sizes) == 2  # of its 8 steps
    assert sampled.events.empty()  # no answer


def sample(histogram, suffix):
    return next(s.value for s in histogram.collect()[0].samples if s.name.endswith(suffix))


@pytest.mark.parametrize("values, random", [({}, False), ({"temperature": 0.5}, True), ({"remasking": "random"}, True)])
def test_only_the_cores_generators_without_random_draws_are_batched(session, values, random):
    assert draws_random_numbers("llada", session.params(values=values)) is random
    assert draws_random_numbers("editflow", session.params())  # a plugin's generator: never assumed batchable
    assert draws_random_numbers("no-such-generator", session.params())
