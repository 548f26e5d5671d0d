"""The engine's running batch on its own: rows admitted at different steps, with different
settings, get the tokens they get alone; runs that cannot be resumed say why."""

from __future__ import annotations

import torch

from dllm_core.generation.running import RowStart, RunningBatch, shared_settings, stepwise_obstacle
from dllm_core.serving.resumable import prepare_row, step_key

PROMPTS = ["1200\n3400\n0000\n4321", "12", "1234\n3412\n2143\n43", "4", "31\n13", "2\n1"]
SHAPES = [(8, 8, 4), (12, 6, 4), (4, 4, 4), (16, 8, 8), (6, 3, 2), (10, 10, 10)]  # length, steps, block


def test_rows_joining_every_other_step_get_their_solo_tokens_and_leave_when_done(session):
    rows = [session.encode(p) for p in PROMPTS]
    params = [session.params(roles={"length": n, "steps": s, "block": b}) for n, s, b in SHAPES]
    solo = [session.generate([row], p)[0] for row, p in zip(rows, params)]
    runs = [prepare_row(session, row, p) for row, p in zip(rows, params)]
    assert len({shared_settings(run.config) for run in runs}) == 1
    batch = RunningBatch(session.model, runs[0].config, runs[0].capabilities)
    got, sizes, waiting = {}, [], list(range(len(rows)))
    while waiting or len(batch):
        if waiting and len(sizes) % 2 == 0:  # one row joins every other step
            index = waiting.pop(0)
            batch.admit([RowStart.of(runs[index], len(rows[index]))], [index])
        sizes.append(len(batch))
        batch.step()
        for row in batch.done.nonzero().flatten().tolist():
            got[batch.owners[row]] = (session.cut_at_stop(batch.answer(row)), int(batch.nfe[row]))
        batch.keep(~batch.done)
        assert not len(batch) or int(batch.pad.min()) == 0  # no column that no row needs
    assert [got[i] for i in range(len(rows))] == [(c.token_ids, c.nfe) for c in solo]
    assert max(sizes) > 1 and sizes[-1] == 1  # rows overlapped, and left one by one


def test_runs_that_draw_or_cache_cannot_join_a_running_batch(session):
    row = session.encode("12")
    plain = prepare_row(session, row, session.params())
    assert stepwise_obstacle(plain) is None
    sampled = prepare_row(session, row, session.params(values={"temperature": 0.7}))
    assert stepwise_obstacle(sampled) == "tokens are sampled"
    assert stepwise_obstacle(prepare_row(session, row, session.params(values={"remasking": "random"}))) \
        == "the commit order is random"
    fast = session.with_generator("fastdllm")
    cached = fast.params(values={"use_cache": "prefix"})
    assert "cache" in stepwise_obstacle(prepare_row(fast, row, cached))
    for rule in ({"threshold": 0.5}, {"factor": 1.0}, {"entropy_bound": 0.5}):  # deterministic rules can join
        assert stepwise_obstacle(prepare_row(fast, row, fast.params(values=rule))) is None
    assert step_key(fast, cached, row) is None
    guided = session.params(values={"cfg_scale": 1.0})
    assert step_key(session, guided, row) is None
    assert step_key(session, session.params(), row) is not None


def test_padding_is_trimmed_when_the_longest_row_leaves(session):
    short, long = session.encode("1"), session.encode("1234\n3412\n2143\n4321")
    run_short = prepare_row(session, short, session.params(roles={"length": 8, "steps": 8, "block": 8}))
    run_long = prepare_row(session, long, session.params(roles={"length": 2, "steps": 2, "block": 2}))
    batch = RunningBatch(session.model, run_short.config, run_short.capabilities)
    batch.admit([RowStart.of(run_short, len(short)), RowStart.of(run_long, len(long))], ["short", "long"])
    assert batch.tokens.shape[1] == len(long) + 2 and batch.pad.tolist() == [len(long) + 2 - len(short) - 8, 0]
    while not bool(batch.done[1]):
        batch.step()
    batch.keep(~batch.done)
    assert batch.owners == ["short"] and batch.tokens.shape[1] == len(short) + 8
    assert batch.pad.tolist() == [0] and torch.equal(batch.tokens[0, : len(short)], torch.tensor(short))
