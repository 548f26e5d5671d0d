"""Generation throughput of a LLaDA-8B-shaped model on one GPU: tokens per second per preset.

The model is built from its configuration with random weights directly on the device (no
download): 32 layers, d_model 4096, 32 heads, MLP 12288, vocabulary 126464, bf16 end to end;
attention is PyTorch's ``scaled_dot_product_attention`` without a mask (no padding), so the
flash / memory-efficient kernels apply. The LM head is initialised N(0, (head_scale)^2 / d_model)
so that, like a trained model, many predictions are confident (threshold rules need that).

For batch 1 and 32 (prompt 64 random tokens, answer 256, blocks of 32, greedy) it times each
preset: ``llada``; ``fastdllm`` with the prefix and the dual cache; both caches with threshold
0.9. Each setting runs once on a short answer to warm up, then once timed (CUDA synchronised);
it prints NFE, seconds, generated tokens per second and the peak GPU memory as it goes.

    pip install --no-deps --no-build-isolation -e . plugins/dllm-llada
    python benchmarks/gpu_generate.py --out gpu_generate.json       # one GPU, about 3 minutes
    python benchmarks/gpu_generate.py --tiny                        # the same code on CPU, seconds

``--tiny`` swaps in a 2-layer model of width 64 (vocabulary 512) on the CPU (one thread), batch 1
and 2, prompt 16, answer 64; it is what the test suite runs.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from dllm_core.generation import FASTDLLM, LLADA, Preset, generate
from dllm_llada.configuration_llada import LLaDAConfig
from dllm_llada.modeling_llada import LLaDAModelLM

#: LLaDA-8B's shape (GSAI-ML/LLaDA-8B-Base)
SHAPE_8B = dict(d_model=4096, n_heads=32, n_kv_heads=32, n_layers=32, mlp_hidden_size=12288, vocab_size=126464)
SHAPE_TINY = dict(d_model=64, n_heads=4, n_kv_heads=4, n_layers=2, mlp_hidden_size=256, vocab_size=512)


@dataclass(frozen=True)
class Setting:
    name: str
    preset: Preset
    params: dict[str, Any]


SETTINGS = [
    Setting("llada", LLADA, {}),
    Setting("fastdllm prefix", FASTDLLM, dict(use_cache="prefix")),
    Setting("fastdllm dual", FASTDLLM, dict(use_cache="dual")),
    Setting("fastdllm prefix, threshold 0.9", FASTDLLM, dict(use_cache="prefix", threshold=0.9)),
    Setting("fastdllm dual, threshold 0.9", FASTDLLM, dict(use_cache="dual", threshold=0.9)),
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
        block_length: int) -> tuple[int, float, float | None]:
    """One timed generation: ``(nfe, seconds, peak GPU memory in GiB or None)``."""
    device = prompt.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _synchronize(device)
    start = time.perf_counter()
    out = generate(model, prompt, preset=setting.preset, steps=steps, gen_length=gen_length,
                   block_length=block_length, **setting.params)
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
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args(argv)
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
    print(f"{'batch':>5}  {'setting':<32} {'NFE':>5} {'seconds':>8} {'tokens/s':>9} {'peak GiB':>8}", flush=True)
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
    for batch in batches:
        prompt = torch.randint(0, shape["vocab_size"] - 3, (batch, prompt_length), device=device,
                               generator=generator)
        for setting in SETTINGS:
            run(model, setting, prompt, args.block_length, max(steps * args.block_length // gen_length, 1),
                args.block_length)  # warm-up: one block
            nfe, seconds, peak = run(model, setting, prompt, gen_length, steps, args.block_length)
            result = Result(setting.name, batch, gen_length, steps, nfe, seconds, batch * gen_length / seconds, peak)
            results.append(result)
            shown_peak = "" if peak is None else f"{peak:8.1f}"
            print(f"{batch:>5}  {setting.name:<32} {nfe:>5} {seconds:>8.2f} {result.tokens_per_second:>9.1f} "
                  f"{shown_peak}", flush=True)
    if args.out:
        with open(args.out, "w") as out:
            json.dump(dict(device=str(device), torch=torch.__version__, shape=shape,
                           results=[asdict(result) for result in results]), out, indent=2)
    return results


if __name__ == "__main__":
    main()
