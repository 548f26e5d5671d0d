"""The generation benchmarks on tiny models: the reference loops written out in
``benchmarks/generation.py`` give the presets' tokens, and ``benchmarks/gpu_generate.py --tiny``
runs every setting and writes its JSON."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from dllm_core.generation import FASTDLLM, LLADA, generate

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load("generation")


@pytest.fixture(scope="module")
def setup(bench):
    torch.manual_seed(0)
    model = bench.random_llada(d_model=32)  # vocabulary 32000, so the mask id is the benchmark's
    prompt = torch.randint(0, bench.VOCAB - 2, (1, 8), generator=torch.Generator().manual_seed(1))
    return model, prompt


def test_ml_gsai_reference_loop_gives_the_llada_tokens(bench, setup):
    model, prompt = setup
    reference, nfe = bench.ml_gsai_generate(model, prompt.clone(), steps=16, gen_length=16, block_length=8)
    ours = generate(model, prompt, preset=LLADA, steps=16, gen_length=16, block_length=8)
    assert torch.equal(ours.sequences, reference) and ours.nfe == nfe == 16


@pytest.mark.parametrize("cache", [None, "prefix", "dual"])
@pytest.mark.parametrize("threshold", [None, 0.9])
def test_fast_dllm_reference_loops_give_the_fastdllm_tokens(bench, setup, cache, threshold):
    model, prompt = setup
    reference, nfe = bench.fast_dllm_generate(model, prompt.clone(), 16, 16, 8, cache, threshold)
    ours = generate(model, prompt, preset=FASTDLLM, steps=16, gen_length=16, block_length=8, use_cache=cache,
                    threshold=threshold)
    assert torch.equal(ours.sequences, reference) and ours.nfe == nfe
    assert not bool((reference == bench.MASK).any())


def test_gpu_benchmark_runs_on_cpu_with_tiny(tmp_path):
    gpu = _load("gpu_generate")
    out = tmp_path / "results.json"
    results = gpu.main(["--tiny", "--batches", "1", "--gen-length", "32", "--out", str(out)])
    written = json.loads(out.read_text())
    assert [r["setting"] for r in written["results"]] == [s.name for s in gpu.SETTINGS]
    assert written["results"] == [vars(r) for r in results]
    for result in results:
        assert result.tokens_per_second > 0 and result.peak_memory_gib is None
        # top-k settings take exactly their steps; threshold ones at most one call per token
        assert result.nfe == 16 if "threshold" not in result.setting else 1 <= result.nfe <= 32
