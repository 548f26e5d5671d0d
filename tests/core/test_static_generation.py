"""Static shapes on the core's toy model: the exact-work tokens with every call of a block the same
shape (with and without a logit shift), and the dual cache's copy-instead-of-write mode."""

from __future__ import annotations

import pytest
import torch

from dllm_core.generation import FASTDLLM, LLADA, generate
from dllm_core.generation.cache import DiffusionCache
from dllm_core.testing.generation import ToyDiffusionLM

PROMPTS = torch.tensor([[3, 14, 15, 9, 2, 6], [5, 3, 5, 8, 9, 7]])


@pytest.fixture(scope="module")
def model():
    return ToyDiffusionLM()


def _calls(model, run):
    """``run()`` and, per model call, ``(query length, head rows)``."""
    calls = []
    hook = model.register_forward_hook(lambda module, args, out: calls.append((args[0].shape[1], out.logits.shape[1])))
    try:
        return run(), calls
    finally:
        hook.remove()


@pytest.mark.parametrize("shift", [False, True])
@pytest.mark.parametrize("preset, params", [
    (LLADA, dict()),
    (FASTDLLM, dict(use_cache="prefix")),
    (FASTDLLM, dict(use_cache="dual", threshold=0.3)),
])
def test_static_shapes_give_the_exact_work_tokens_with_fixed_calls(model, shift, preset, params):
    kw = dict(preset=preset, steps=16, gen_length=16, block_length=8, supports_kv_cache=True,
              supports_logits_to_keep=True, logit_shift=shift, **params)
    exact = generate(model, PROMPTS, **kw)
    static, calls = _calls(model, lambda: generate(model, PROMPTS, static_shapes=True, **kw))
    assert torch.equal(static.sequences, exact.sequences) and static.nfe == exact.nfe == len(calls)
    assert all(query == rows for query, rows in calls)  # the head runs over every query output
    canvas = PROMPTS.shape[1] + 16
    cached = {query for query, _ in calls if query != canvas}
    back = int(shift)  # with a shift the cached queries start one before the block
    expected = {None: set(), "prefix": {16 + back, 8 + back}, "dual": {8 + back}}[params.get("use_cache")]
    assert cached == expected


def test_dual_cache_copy_mode_returns_what_writing_returns_and_keeps_the_store():
    stored = torch.randn(2, 3, 10, 4)
    new = torch.randn(2, 3, 4, 4)
    writing, copying = DiffusionCache(), DiffusionCache()
    for cache in (writing, copying):
        cache.record()
        cache.update(stored.clone(), stored.clone() + 1, 0)
    writing.dual(5, 9)
    copying.dual(5, 9, positions=torch.arange(5, 9))
    written = writing.update(new, new + 1, 0)
    copied = copying.update(new, new + 1, 0)
    assert all(torch.equal(a, b) for a, b in zip(written, copied))
    assert torch.equal(copying.keys[0], stored) and torch.equal(copying.values[0], stored + 1)
    assert not torch.equal(writing.keys[0], stored)  # writing changed its store, copying did not
