"""``benchmarks/generation.py``'s per-call-kind clock: block-start full forwards and cached steps
are counted apart, and every call's CPU time is charged once."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import torch

from dllm_core.generation import FASTDLLM, generate

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "generation.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_generation_clock", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_call_clock_splits_full_forwards_from_cached_steps():
    bench = _bench()
    model = bench.random_llada(d_model=32)
    prompt = torch.randint(0, bench.VOCAB - 2, (1, 8), generator=torch.Generator().manual_seed(1))
    gen_length, block = 24, 8
    clock = bench.CallClock(model, 8 + gen_length)
    start = time.process_time()
    out = generate(model, prompt, preset=FASTDLLM, steps=12, gen_length=gen_length, block_length=block,
                   use_cache="dual")
    end = time.process_time()
    kinds = clock.stop(end)
    blocks = gen_length // block
    assert kinds["full"][0] == blocks  # one recording forward per block
    assert kinds["step"][0] == out.nfe - blocks
    charged = kinds["full"][1] + kinds["step"][1]
    assert 0 < charged <= end - start
    assert not model._forward_pre_hooks  # the clock removed its hook


def test_threshold_comparison_is_per_kind():
    bench = _bench()
    tokens = torch.zeros(1, 4, dtype=torch.long)
    plain = bench.Timed(tokens, 10, 1.0, 1.0, 0.0, {"full": [2, 0.2], "step": [8, 0.8]})
    fast = bench.Timed(tokens, 6, 1.0, 0.9, 0.0, {"full": [2, 0.2], "step": [4, 0.7]})
    assert bench._per_kind("full", fast, plain) == "full (2 / 2) 100.0 vs 100.0 ok"
    assert bench._per_kind("step", fast, plain) == "step (4 / 8) 175.0 vs 100.0 SLOWER"
    assert bench._per_kind("mean", fast, plain) == "mean (6 / 10) 150.0 vs 100.0 SLOWER"
