"""Generation throughput of a LLaDA-8B-shaped model on one GPU: tokens per second per preset.

The model is built from its configuration with random weights directly on the device (no
download): 32 layers, d_model 4096, 32 heads, MLP 12288, vocabulary 126464, bf16 end to end;
attention is PyTorch's ``scaled_dot_product_attention`` without a mask (no padding), so the
flash / memory-efficient kernels apply. The LM head is initialised N(0, (head_scale)^2 / d_model)
so that, like a trained model, many predictions are confident (threshold rules need that).

For batch 1 and 32 (prompt 64 random tokens, answer 256, blocks of 32, greedy) it times each
setting (``--only KEY ...`` picks some):

* eager, exact work: ``llada``; ``fastdllm`` with the prefix and the dual cache; both caches
  with threshold 0.9 (keys ``llada prefix dual prefix-thr dual-thr``);
* static shapes, eager (``static_shapes=True``: full-window LM head, fixed queries per block):
  ``llada-static dual-static``;
* static shapes, compiled (``compile=--compile-mode``, default ``reduce-overhead``: inductor and
  CUDA graphs): ``llada-compiled prefix-compiled dual-compiled dual-thr-compiled``.

An eager setting runs once on a short answer to warm up, then once timed (CUDA synchronised); a
compiled one warms up on the full answer, so that every block's shape is compiled before the
timed run, and reports that run's seconds too, the number of graphs compiled and how many of
them inductor ran without CUDA graphs (``no-CG``; its warnings say why). It prints NFE, seconds, generated tokens per
second and the peak GPU memory as it goes.

    pip install --no-deps --no-build-isolation -e . plugins/dllm-llada
    python benchmarks/gpu_generate.py --out gpu_generate.json       # one GPU, every setting
    python benchmarks/gpu_generate.py --only llada dual llada-compiled dual-compiled  # a subset
    python benchmarks/gpu_generate.py --tiny                        # the same code on CPU, seconds

``--tiny`` swaps in a 2-layer model of width 64 (vocabulary 512) on the CPU (one thread), batch 1
and 2, prompt 16, answer 64, and compiles with the ``aot_eager`` backend; it is what the test
suite runs.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch._dynamo.utils import counters

from dllm_core.generation import FASTDLLM, LLADA, Preset, generate
from dllm_llada.configuration_llada import LLaDAConfig
from dllm_llada.modeling_llada import LLaDAModelLM

#: LLaDA-8B's shape (GSAI-ML/LLaDA-8B-Base)
SHAPE_8B = dict(d_model=4096, n_heads=32, n_kv_heads=32, n_layers=32, mlp_hidden_size=12288, vocab_size=126464)
SHAPE_TINY = dict(d_model=64, n_heads=4, n_kv_heads=4, n_layers=2, mlp_hidden_size=256, vocab_size=512)


@dataclass(frozen=True)
class Setting:
    key: str
    name: str
    preset: Preset
    params: dict[str, Any]
    compiled: bool = False


SETTINGS = [
    Setting("llada", "llada", LLADA, {}),
    Setting("prefix", "fastdllm prefix", FASTDLLM, dict(use_cache="prefix")),
    Setting("dual", "fastdllm dual", FASTDLLM, dict(use_cache="dual")),
    Setting("prefix-thr", "fastdllm prefix, threshold 0.9", FASTDLLM, dict(use_cache="prefix", threshold=0.9)),
    Setting("dual-thr", "fastdllm dual, threshold 0.9", FASTDLLM, dict(use_cache="dual", threshold=0.9)),
    Setting("llada-static", "llada, static", LLADA, dict(static_shapes=True)),
    Setting("dual-static", "fastdllm dual, static", FASTDLLM, dict(use_cache="dual", static_shapes=True)),
    Setting("llada-compiled", "llada, compiled", LLADA, {}, compiled=True),
    Setting("prefix-compiled", "fastdllm prefix, compiled", FASTDLLM, dict(use_cache="prefix"), compiled=True),
    Setting("dual-compiled", "fastdllm dual, compiled", FASTDLLM, dict(use_cache="dual"), compiled=True),
    Setting("dual-thr-compiled", "fastdllm dual, threshold 0.9, compiled", FASTDLLM,
            dict(use_cache="dual", threshold=0.9), compiled=True),
]


@dataclass
class Result:
    setting: str
    batch: int
    gen_length: int
    steps: int
    nfe: int
    seconds: float
    tokens_per_second: float
    peak_memory_gib: float | None
    warmup_seconds: float
    graphs: int  # graphs Dynamo compiled for the setting (0: eager)
    cudagraph_skips: int  # of those, graphs inductor ran without CUDA graphs (see its warnings)


def build_model(shape: dict[str, int], device: torch.device, dtype: torch.dtype, head_scale: float) -> LLaDAModelLM:
    """A random LLaDA of ``shape``, initialised on ``device`` in ``dtype``."""
    vocab = shape["vocab_size"]
    config = LLaDAConfig(**shape, embedding_size=vocab, max_sequence_length=4096, rope_theta=500000.0,
                         mask_token_id=vocab - 2, eos_token_id=vocab - 3, pad_token_id=vocab - 3)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LLaDAModelLM(config)
    finally:
        torch.set_default_dtype(previous)
    with torch.no_grad():
        head = model.model.transformer["ff_out"].weight  # [V, D]
        head.normal_(0.0, head_scale / shape["d_model"] ** 0.5)
    return model.eval()


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(model: LLaDAModelLM, setting: Setting, prompt: torch.Tensor, gen_length: int, steps: int,
        block_length: int, compile_mode: str) -> tuple[int, float, float | None]:
    """One timed generation: ``(nfe, seconds, peak GPU memory in GiB or None)``."""
    params = dict(setting.params, compile=compile_mode) if setting.compiled else setting.params
    device = prompt.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _synchronize(device)
    start = time.perf_counter()
    out = generate(model, prompt, preset=setting.preset, steps=steps, gen_length=gen_length,
                   block_length=block_length, **params)
    _synchronize(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return out.nfe, seconds, peak


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny model on the CPU (seconds; for tests)")
    parser.add_argument("--batches", type=int, nargs="+", help="batch sizes (default 1 32; tiny: 1 2)")
    parser.add_argument("--gen-length", type=int, help="answer length (default 256; tiny: 64)")
    parser.add_argument("--steps", type=int, help="denoising steps over the answer (default gen_length / 2)")
    parser.add_argument("--prompt-length", type=int, help="prompt tokens (default 64; tiny: 16)")
    parser.add_argument("--block-length", type=int, default=32)
    parser.add_argument("--head-scale", type=float, default=8.0, help="LM-head init scale (see module doc)")
    parser.add_argument("--only", nargs="+", choices=[setting.key for setting in SETTINGS], metavar="KEY",
                        help="run only these settings (keys in the module doc; default: all)")
    parser.add_argument("--compile-mode", help="compile= of the compiled settings (default reduce-overhead; "
                        "tiny: aot_eager)")
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args(argv)
    args.compile_mode = args.compile_mode or ("aot_eager" if args.tiny else "reduce-overhead")
    device = torch.device("cpu" if args.tiny else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device: run on a GPU machine, or pass --tiny for the CPU check")
    shape = SHAPE_TINY if args.tiny else SHAPE_8B
    batches = args.batches or ([1, 2] if args.tiny else [1, 32])
    gen_length = args.gen_length or (64 if args.tiny else 256)
    steps = args.steps or gen_length // 2
    prompt_length = args.prompt_length or (16 if args.tiny else 64)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    started = time.perf_counter()
    model = build_model(shape, device, torch.bfloat16, args.head_scale)
    print(f"torch {torch.__version__}, {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}); "
          f"LLaDA {shape}, bf16, built in {time.perf_counter() - started:.1f} s; prompt {prompt_length}, "
          f"answer {gen_length}, {steps} steps, blocks of {args.block_length}", flush=True)
    print(f"{'batch':>5}  {'setting':<40} {'NFE':>5} {'seconds':>8} {'tokens/s':>9} {'peak GiB':>8} "
          f"{'warm-up s':>9} {'graphs':>6} {'no-CG':>5}", flush=True)
    threads = torch.get_num_threads()
    if args.tiny:
        torch.set_num_threads(1)  # a tiny model gains nothing from threads on a shared CPU
    try:
        return _run_all(model, shape, device, batches, prompt_length, gen_length, steps, args)
    finally:
        torch.set_num_threads(threads)


def _run_all(model: LLaDAModelLM, shape: dict[str, int], device: torch.device, batches: list[int],
             prompt_length: int, gen_length: int, steps: int, args: argparse.Namespace) -> list[Result]:
    """Every setting at every batch size, printed as it goes (and written to ``args.out``)."""
    results = []
    generator = torch.Generator(device=device).manual_seed(0)
    chosen = [setting for setting in SETTINGS if args.only is None or setting.key in args.only]
    for batch in batches:
        prompt = torch.randint(0, shape["vocab_size"] - 3, (batch, prompt_length), device=device,
                               generator=generator)
        for setting in chosen:
            graphs, skips = counters["stats"]["unique_graphs"], counters["inductor"]["cudagraph_skips"]
            # warm-up: one block, or the whole answer when compiling (every block's shape)
            warm_length = gen_length if setting.compiled else args.block_length
            _, warmup, _ = run(model, setting, prompt, warm_length, max(steps * warm_length // gen_length, 1),
                               args.block_length, args.compile_mode)
            nfe, seconds, peak = run(model, setting, prompt, gen_length, steps, args.block_length, args.compile_mode)
            result = Result(setting.name, batch, gen_length, steps, nfe, seconds, batch * gen_length / seconds, peak,
                            warmup, counters["stats"]["unique_graphs"] - graphs,
                            counters["inductor"]["cudagraph_skips"] - skips)
            results.append(result)
            shown_peak = "" if peak is None else f"{peak:8.1f}"
            print(f"{batch:>5}  {setting.name:<40} {nfe:>5} {seconds:>8.2f} {result.tokens_per_second:>9.1f} "
                  f"{shown_peak:>8} {warmup:>9.1f} {result.graphs:>6} {result.cudagraph_skips:>5}", flush=True)
    if args.out:
        with open(args.out, "w") as out:
            json.dump(dict(device=str(device), torch=torch.__version__, shape=shape, compile=args.compile_mode,
                           results=[asdict(result) for result in results]), out, indent=2)
    return results


if __name__ == "__main__":
    main()
