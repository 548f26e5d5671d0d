"""Static shapes and ``torch.compile`` for LLaDA's presets: the same tokens and forward calls as
the reference loops written out in ``benchmarks/generation.py``, as the exact-work path and as
every LLaDA golden case; fixed shapes per block; one compiled graph per shape, kept per model
and never installed on it.

The compiled runs use the ``aot_eager`` backend (Dynamo's graph capture and AOT autograd, eager
kernels): inductor also gives the reference tokens here but takes 30 to 50 s per setting to
compile on this CPU, too long for a unit test.
"""

from __future__ import annotations

import gc
import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from support.golden import golden_cases
from support.golden_run import check_golden_case
from torch._dynamo.utils import counters

from dllm_core.generation import FASTDLLM, LLADA, generate
from dllm_core.generation import compiled
from dllm_llada.modeling_llada import LLaDAModelLM

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
GOLDEN = golden_cases("llada")
#: the fastdllm settings: (use_cache, threshold)
FAST = [(cache, threshold) for cache in (None, "prefix", "dual") for threshold in (None, 0.9)]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_generation_static", BENCHMARKS / "generation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def setup(bench):
    model = bench.random_llada(d_model=32)
    prompt = torch.randint(0, bench.VOCAB - 2, (1, 8), generator=torch.Generator().manual_seed(1))
    return model, prompt


def _shapes(model, run):
    """``run()`` and, per model call, ``(input shape, logits shape)``."""
    shapes = []
    hook = model.register_forward_hook(
        lambda module, args, out: shapes.append((tuple(args[0].shape), tuple(out.logits.shape))))
    try:
        return run(), shapes
    finally:
        hook.remove()


def test_static_llada_gives_the_reference_tokens_with_the_full_head(bench, setup):
    model, prompt = setup
    reference, nfe = bench.ml_gsai_generate(model, prompt.clone(), steps=16, gen_length=16, block_length=8)
    out, shapes = _shapes(model, lambda: generate(model, prompt, preset=LLADA, steps=16, gen_length=16,
                                                  block_length=8, static_shapes=True))
    assert torch.equal(out.sequences, reference) and out.nfe == nfe == len(shapes) == 16
    assert set(shapes) == {((1, 24), (1, 24, bench.VOCAB))}  # every call: the canvas, every head row


@pytest.mark.parametrize("cache, threshold", FAST)
def test_static_fastdllm_gives_the_reference_and_the_exact_work_tokens(bench, setup, cache, threshold):
    model, prompt = setup
    reference, nfe = bench.fast_dllm_generate(model, prompt.clone(), 16, 16, 8, cache, threshold)
    kw = dict(preset=FASTDLLM, steps=16, gen_length=16, block_length=8, use_cache=cache, threshold=threshold)
    exact = generate(model, prompt, **kw)
    static, shapes = _shapes(model, lambda: generate(model, prompt, static_shapes=True, **kw))
    assert torch.equal(static.sequences, reference) and torch.equal(exact.sequences, reference)
    assert static.nfe == exact.nfe == nfe == len(shapes)
    assert not bool((reference == bench.MASK).any())
    # a cached step's query and head are fixed per block: the block (dual) or the canvas from it on
    cached = {shape for shape in shapes if shape[0] != (1, 24)}
    expected = {None: set(), "prefix": {((1, 16), (1, 16, bench.VOCAB)), ((1, 8), (1, 8, bench.VOCAB))},
                "dual": {((1, 8), (1, 8, bench.VOCAB))}}[cache]
    assert cached == expected


def test_static_padded_batch_gives_the_exact_work_tokens(bench):
    """Rows of different lengths (left padding, the mask kept) and a batch of 3: the same tokens."""
    model = bench.random_llada(d_model=32, vocab=512)
    prompts = torch.randint(0, 510, (3, 7), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(prompts)
    mask[0, :3] = mask[2, :1] = 0
    for cache in (None, "prefix", "dual"):
        kw = dict(preset=FASTDLLM, steps=8, gen_length=16, block_length=8, use_cache=cache, attention_mask=mask)
        assert torch.equal(generate(model, prompts, static_shapes=True, **kw).sequences,
                           generate(model, prompts, **kw).sequences)


@pytest.fixture(scope="module")
def golden_model(golden_dir):
    return LLaDAModelLM.from_pretrained(golden_dir / "llada" / "checkpoint").eval()


@pytest.mark.parametrize("case", GOLDEN, ids=[case["id"] for case in GOLDEN])
def test_static_shapes_pass_the_golden_case(golden_model, case):
    """Tokens, NFE and tokens committed per call of every LLaDA golden case (CFG, padding,
    threshold, both caches) with static shapes on."""
    check_golden_case(golden_model, {**case, "params": {**case["params"], "static_shapes": True}})


def _graphs() -> int:
    return counters["stats"]["unique_graphs"]


@pytest.mark.parametrize("cache", [None, "prefix", "dual"])
def test_compiled_step_gives_the_reference_tokens_and_compiles_once(bench, setup, cache):
    """Compiled (aot_eager): the reference's tokens; one graph per query shape (one for
    ``llada``'s canvas and the dual cache's block, one per block for the prefix cache), none
    more for a second generation; the model's own call stays eager."""
    model, prompt = setup
    reference, nfe = bench.fast_dllm_generate(model, prompt.clone(), 16, 16, 8, cache, None)
    kw = dict(preset=FASTDLLM, steps=16, gen_length=16, block_length=8, use_cache=cache, compile="aot_eager")
    before = _graphs()
    first = generate(model, prompt, **kw)
    made = _graphs() - before
    second = generate(model, prompt, **kw)
    assert torch.equal(first.sequences, reference) and torch.equal(second.sequences, reference)
    assert first.nfe == nfe
    assert made == (2 if cache == "prefix" else 1) and _graphs() - before == made
    frames = counters["frames"]["total"]
    model(prompt)  # eager: Dynamo never sees it
    assert counters["frames"]["total"] == frames


def test_compiled_steps_are_kept_per_model_and_go_with_it(bench):
    model = bench.random_llada(d_model=16, vocab=64)
    setting = compiled.CompileSetting.parse("aot_eager")
    step = compiled.compiled_model(model, setting)
    assert compiled.compiled_model(model, setting) is step
    assert compiled.compiled_model(model, compiled.CompileSetting.parse("eager")) is not step
    assert model in compiled._COMPILED
    del model, step
    gc.collect()
    assert not any(isinstance(key, LLaDAModelLM) and key.config.d_model == 16 for key in compiled._COMPILED)


def test_compile_names_a_mode_or_a_backend(setup):
    assert compiled.CompileSetting.parse("reduce-overhead") == compiled.CompileSetting("inductor", "reduce-overhead")
    assert compiled.CompileSetting.parse("reduce-overhead").cuda_graphs
    assert compiled.CompileSetting.parse("aot_eager") == compiled.CompileSetting("aot_eager", None)
    model, prompt = setup
    with pytest.raises(ValueError, match="neither a torch.compile mode .*reduce-overhead.* nor a backend .*inductor"):
        generate(model, prompt, preset=LLADA, steps=8, gen_length=8, block_length=8, compile="fastest")


def test_gpu_benchmark_runs_a_chosen_subset_with_tiny():
    spec = importlib.util.spec_from_file_location("bench_gpu_generate_static", BENCHMARKS / "gpu_generate.py")
    gpu = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gpu
    spec.loader.exec_module(gpu)
    results = gpu.main(["--tiny", "--batches", "1", "--gen-length", "32", "--only", "dual-static", "dual-compiled"])
    assert [result.setting for result in results] == ["fastdllm dual, static", "fastdllm dual, compiled"]
    assert all(result.nfe == 16 and result.tokens_per_second > 0 for result in results)
