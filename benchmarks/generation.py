"""Generation speed on CPU, side by side with the reference algorithms written out plainly.

Run from the repository root (one CPU thread per run; ``--no-1024`` skips the longest length,
``--jobs N`` runs N settings at once in separate processes, each still on one thread):

    HF_HUB_OFFLINE=1 python benchmarks/generation.py --no-1024      # about 5 minutes
    HF_HUB_OFFLINE=1 python benchmarks/generation.py --jobs 12      # all lengths, on 12+ cores
    HF_HUB_OFFLINE=1 python benchmarks/generation.py --block        # block diffusion only

The model is a random LLaDA (``LLaDAModelLM``: d_model 256, 4 layers of 4 heads, MLP 1024,
vocabulary 32000, so that the LM head weighs as in real models: about a third of a full
forward); embeddings N(0, 1), matrices N(0, 1/fan_in), the LM head scaled by ``--head-scale`` so
that, like a trained model, a good share of predictions is confident (threshold rules need
that). One prompt of 64 tokens, blocks of 32, greedy; one token per step at lengths 64 and 256,
four at 1024 (``steps = 256``; there the uncached threshold pair, the slowest, is left out).

Every setting runs in a fresh process (built from the same seed) on one torch thread and is
timed by that process' CPU time (other jobs on a shared machine barely disturb it). Each of our
settings is paired with its *reference arm*, the published algorithm written plainly below
(full forward, full-vocabulary softmax over every output position, a top-k per row, the cache
kept as the reference's modified model keeps it):

* ``ML-GSAI generate`` (LLaDA's ``generate``, float32 softmax) <- ``llada``;
* ``Fast-dLLM generate/prefix/dual`` (float64 softmax; the prefix and dual caches of
  ``generate_with_prefix_cache`` / ``generate_with_dual_cache``), with and without the 0.9
  threshold <- ``fastdllm`` with the same ``use_cache`` and ``threshold``.

Columns: NFE, CPU seconds, milliseconds per forward, ``vs ref`` = our CPU time over the
reference arm's (lower is better), ``speedup`` = ML-GSAI ``generate``'s CPU time over this one's,
``agree`` = share of generated tokens equal to the reference arm's, and ``peak MiB``, the peak
memory of the generation: how far the process' resident set rose above its size at the start
(the peak is reset first through Linux ``/proc/self/clear_refs``; torch's CPU allocator is
invisible to ``tracemalloc``); ``ms full`` and ``ms step``: CPU milliseconds per forward of the
calls over the whole canvas and of the cached calls, each charged with the step work that follows
it (``CallClock``). The goals at the end compare each threshold run with its twin per call kind,
so that a run with more block starts is compared like for like.

``--block``: the block-diffusion generators against ``llada`` at equal NFE, on a tiny LLaDA
(d_model 128, vocabulary 1024; see ``docs/block_diffusion.md``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from dllm_core.generation import BD3LM, FASTDLLM, LLADA, LLADA2, BlockGenerator, generate, generate_blocks
from dllm_core.modeling import column_major_lm_head
from dllm_core.special_tokens import SpecialTokens
from dllm_llada.configuration_llada import LLaDAConfig
from dllm_llada.modeling_llada import LLaDAModelLM

VOCAB = 32000
MASK, EOS = VOCAB - 1, VOCAB - 2
PROMPT_LENGTH = 64
BLOCK_LENGTH = 32
THRESHOLD = 0.9
#: (gen_length, steps): one token per step up to 256, four at 1024
GRID = [(64, 64), (256, 256), (1024, 256)]


def random_llada(d_model: int = 256, vocab: int = VOCAB, head_scale: float = 16.0, seed: int = 0) -> LLaDAModelLM:
    """A random LLaDA with confident predictions (see the module doc)."""
    config = LLaDAConfig(d_model=d_model, n_heads=4, n_kv_heads=4, n_layers=4, mlp_hidden_size=4 * d_model,
                         vocab_size=vocab, embedding_size=vocab, max_sequence_length=2048,
                         mask_token_id=vocab - 1, eos_token_id=vocab - 2, pad_token_id=vocab - 2)
    model = LLaDAModelLM(config).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() == 1:  # norm weights
                parameter.fill_(1.0)
            elif name.endswith("wte.weight"):
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
            else:
                scale = parameter.shape[1] ** -0.5
                if name == "model.transformer.ff_out.weight":
                    scale *= head_scale
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    return model


# ---------------------------------------------------------------------------------------------
# The reference algorithms, written out plainly (greedy, one prompt row or several of equal
# length, no padding).
# ---------------------------------------------------------------------------------------------


def transfer_counts(block_masks: torch.Tensor, steps: int) -> torch.Tensor:
    """``[B, steps]``: ``n // steps`` tokens per step, one more in the first ``n % steps``."""
    masked = block_masks.sum(dim=1, keepdim=True)
    counts = (masked // steps).repeat(1, steps)
    for row in range(counts.shape[0]):
        counts[row, : int(masked[row] % steps)] += 1
    return counts


def commit_index(logits: torch.Tensor, x: torch.Tensor, mask_index: torch.Tensor, count: torch.Tensor | None,
                 threshold: float | None, prob_dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The references' commit step on outputs ``logits [B, n, V]`` of tokens ``x [B, n]``:
    ``(x0 [B, n], transfer [B, n] bool)``.

    Argmax token, softmax over the whole vocabulary in ``prob_dtype``, its probability as the
    confidence of masked positions (-inf elsewhere); each row commits its ``count`` most
    confident positions, or (``threshold``) its most confident one and every other one at or
    above the threshold.
    """
    x0 = logits.argmax(dim=-1)
    probs = torch.softmax(logits.to(prob_dtype), dim=-1)
    x0_p = torch.gather(probs, -1, x0[..., None])[..., 0]
    x0 = torch.where(mask_index, x0, x)
    confidence = torch.where(mask_index, x0_p, torch.tensor(-float("inf"), dtype=x0_p.dtype))
    transfer = torch.zeros_like(x0, dtype=torch.bool)
    for row in range(x0.shape[0]):
        k = int(mask_index[row].sum()) if threshold is not None else int(count[row])
        values, index = torch.topk(confidence[row], k)
        if threshold is not None:
            index = index[(values >= threshold) | (torch.arange(k) == 0)]
        transfer[row, index] = True
    return x0, transfer


@torch.no_grad()
def ml_gsai_generate(model: nn.Module, prompt: torch.Tensor, steps: int, gen_length: int,
                     block_length: int) -> tuple[torch.Tensor, int]:
    """ML-GSAI/LLaDA ``generate`` at temperature 0, low-confidence remasking."""
    x = torch.cat([prompt, torch.full((prompt.shape[0], gen_length), MASK)], dim=1)
    steps_per_block = steps // (gen_length // block_length)
    nfe = 0
    for block in range(gen_length // block_length):
        start = prompt.shape[1] + block * block_length
        end = start + block_length
        counts = transfer_counts(x[:, start:end] == MASK, steps_per_block)
        for step in range(steps_per_block):
            mask_index = x == MASK
            logits = model(x).logits  # [B, L, V]
            nfe += 1
            mask_index[:, end:] = False  # the official code sets those confidences to -inf
            x0, transfer = commit_index(logits, x, mask_index, counts[:, step], None, torch.float32)
            x[transfer] = x0[transfer]
    return x, nfe


class FastDLLMCache:
    """Keys/values as Fast-dLLM's modified LLaDA keeps them (the model calls ``update`` per layer).

    After the block-start forward (``mode = "record"``) the prefix cache keeps positions
    ``[0, start)`` and every later call concatenates its own keys/values after them; the dual
    cache keeps the whole canvas and each call writes its block's keys/values into it in place.
    """

    def __init__(self) -> None:
        self.layers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.mode, self.start, self.end = "record", 0, 0

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int,
               cache_kwargs: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode == "record":
            self.layers[layer_idx] = (key, value)
            return key, value
        keys, values = self.layers[layer_idx]
        if self.mode == "prefix":
            return torch.cat([keys, key], dim=2), torch.cat([values, value], dim=2)
        keys[:, :, self.start:self.end] = key
        values[:, :, self.start:self.end] = value
        return keys, values

    def keep_prefix(self, length: int) -> None:
        self.layers = {i: (k[:, :, :length], v[:, :, :length]) for i, (k, v) in self.layers.items()}
        self.mode = "prefix"

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.layers[layer_idx][0].shape[2] if layer_idx in self.layers else 0


@torch.no_grad()
def fast_dllm_generate(model: nn.Module, prompt: torch.Tensor, steps: int, gen_length: int, block_length: int,
                       cache: str | None = None, threshold: float | None = None) -> tuple[torch.Tensor, int]:
    """Fast-dLLM's ``generate`` / ``generate_with_prefix_cache`` / ``generate_with_dual_cache``
    (``cache`` None, ``"prefix"``, ``"dual"``) at temperature 0, low confidence, optional threshold."""
    x = torch.cat([prompt, torch.full((prompt.shape[0], gen_length), MASK)], dim=1)
    length = x.shape[1]
    steps_per_block = steps // (gen_length // block_length)
    nfe = 0
    for block in range(gen_length // block_length):
        start = prompt.shape[1] + block * block_length
        end = start + block_length
        counts = transfer_counts(x[:, start:end] == MASK, steps_per_block)
        step = 0
        kv = FastDLLMCache() if cache is not None else None
        while bool((x[:, start:end] == MASK).any()):
            count = None if threshold is not None else counts[:, step]
            if kv is None or step == 0:  # the whole canvas (with a cache: recording it)
                logits = model(x, past_key_values=kv, use_cache=kv is not None).logits
                mask_index = x == MASK
                mask_index[:, end:] = False
                x0, transfer = commit_index(logits, x, mask_index, count, threshold, torch.float64)
                x[transfer] = x0[transfer]
                if kv is not None and cache == "prefix":
                    kv.keep_prefix(start)
                elif kv is not None:
                    kv.mode, kv.start, kv.end = "dual", start, end
            else:
                stop = length if cache == "prefix" else end
                positions = torch.arange(start, stop)[None]
                logits = model(x[:, start:stop], position_ids=positions, past_key_values=kv, use_cache=True).logits
                mask_index = x[:, start:stop] == MASK
                mask_index[:, block_length:] = False
                x0, transfer = commit_index(logits, x[:, start:stop], mask_index, count, threshold, torch.float64)
                x[:, start:stop][transfer] = x0[transfer]
            nfe += 1
            step += 1
    return x, nfe


# ---------------------------------------------------------------------------------------------
# The settings and their runs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One arm: ``reference`` names the reference arm an arm of ours is paired with."""

    name: str
    cache: str | None = None
    threshold: float | None = None
    ours: bool = True
    reference: str = ""
    long: bool = True  # also at length 1024


def arms_at(gen_length: int) -> list[Setting]:
    """The arms run at ``gen_length`` (1024 leaves out the slowest, uncached threshold pair)."""
    return [arm for arm in ARMS if arm.long or gen_length < 1024]


def _arms() -> list[Setting]:
    arms = [Setting("ML-GSAI generate", ours=False), Setting("llada", reference="ML-GSAI generate")]
    for threshold in (None, THRESHOLD):
        for cache in (None, "prefix", "dual"):
            if cache is None and threshold is None:
                continue  # Fast-dLLM's plain generate is ML-GSAI's (float64 confidences)
            label = f"{cache or 'no'} cache" + (f", threshold {threshold}" if threshold else "")
            reference = f"Fast-dLLM, {label}"
            long = cache is not None
            arms.append(Setting(reference, cache, threshold, ours=False, long=long))
            arms.append(Setting(f"fastdllm, {label}", cache, threshold, reference=reference, long=long))
    return arms


ARMS = _arms()


@dataclass
class Timed:
    tokens: torch.Tensor
    nfe: int
    wall: float  # seconds
    cpu: float  # CPU seconds of the process
    peak_mib: float  # growth of the peak resident set during the run
    #: call kind ("full": the whole canvas, "step": a cached call) -> [calls, CPU seconds]
    kinds: dict[str, list[float]] = field(default_factory=dict)


class CallClock:
    """CPU time per model call, split by kind: each call is charged from its start to the next
    call's start (or the end of the run), so a step's commit work counts with its call. A call
    over the whole canvas of ``length`` tokens is ``"full"``, a cached call ``"step"``."""

    def __init__(self, model: nn.Module, length: int) -> None:
        self.length = length
        self.starts: list[tuple[float, str]] = []
        self.handle = model.register_forward_pre_hook(self._pre)

    def _pre(self, module: nn.Module, args: tuple) -> None:
        input_ids = args[0] if args else None
        kind = "full" if input_ids is None or input_ids.shape[1] == self.length else "step"
        self.starts.append((time.process_time(), kind))

    def stop(self, end: float) -> dict[str, list[float]]:
        self.handle.remove()
        kinds: dict[str, list[float]] = {}
        ends = [start for start, _ in self.starts[1:]] + [end]
        for (start, kind), stop in zip(self.starts, ends):
            count, seconds = kinds.setdefault(kind, [0, 0.0])
            kinds[kind] = [count + 1, seconds + stop - start]
        return kinds


def _status_mib(field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of this process, from /proc (Linux)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024  # kB


def _reset_peak() -> None:
    """Make the peak resident set (``VmHWM``) restart from the current one (Linux ``clear_refs``)."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def _call(setting: Setting, model: nn.Module, prompt: torch.Tensor, gen_length: int, steps: int) -> tuple[Any, int]:
    if setting.ours:
        preset = LLADA if setting.name == "llada" else FASTDLLM
        extra = {} if preset is LLADA else dict(use_cache=setting.cache, threshold=setting.threshold)
        out = generate(model, prompt, preset=preset, steps=steps, gen_length=gen_length,
                       block_length=BLOCK_LENGTH, **extra)
        return out.sequences, out.nfe
    if setting.name == "ML-GSAI generate":
        return ml_gsai_generate(model, prompt, steps, gen_length, BLOCK_LENGTH)
    return fast_dllm_generate(model, prompt, steps, gen_length, BLOCK_LENGTH, setting.cache, setting.threshold)


def run_in_process(setting: Setting, gen_length: int, steps: int, head_scale: float) -> Timed:
    """One setting in this (fresh) process: build the model, warm up, time one run."""
    torch.set_num_threads(1)
    model = random_llada(head_scale=head_scale)
    if setting.ours:
        column_major_lm_head(model)  # as dllm's load_for_inference leaves a model on the CPU
    prompt = torch.randint(0, VOCAB - 2, (1, PROMPT_LENGTH), generator=torch.Generator().manual_seed(1))
    _call(setting, model, prompt, BLOCK_LENGTH, 4)  # warm-up: one short block
    _reset_peak()
    before = _status_mib("VmRSS")
    clock = CallClock(model, PROMPT_LENGTH + gen_length)
    wall, cpu = time.perf_counter(), time.process_time()
    tokens, nfe = _call(setting, model, prompt, gen_length, steps)
    end = time.process_time()
    wall, cpu = time.perf_counter() - wall, end - cpu
    return Timed(tokens[:, PROMPT_LENGTH:], nfe, wall, cpu, max(_status_mib("VmHWM") - before, 0.0), clock.stop(end))


def run_child(setting: Setting, gen_length: int, steps: int, head_scale: float) -> Timed:
    """:func:`run_in_process` in a child process of this script (``--one``), read back as JSON."""
    index = ARMS.index(setting)
    command = [sys.executable, __file__, "--one", str(index), str(gen_length), str(steps),
               "--head-scale", str(head_scale)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{setting.name} at {gen_length} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Timed(torch.tensor(result.pop("tokens")), **result)


def report_one(index: int, gen_length: int, steps: int, head_scale: float) -> None:
    """``--one``: run one setting and print its result as one JSON line."""
    timed = run_in_process(ARMS[index], gen_length, steps, head_scale)
    print(json.dumps(dict(tokens=timed.tokens.tolist(), nfe=timed.nfe, wall=timed.wall, cpu=timed.cpu,
                          peak_mib=timed.peak_mib, kinds=timed.kinds)))


def side_by_side(lengths: list[tuple[int, int]], jobs: int, head_scale: float) -> dict[int, dict[str, Timed]]:
    """Every arm at every length, one fresh process each (``jobs`` at a time)."""
    with ThreadPoolExecutor(jobs) as pool:
        futures = {(gen_length, setting.name): pool.submit(run_child, setting, gen_length, steps, head_scale)
                   for gen_length, steps in lengths for setting in arms_at(gen_length)}
        results: dict[int, dict[str, Timed]] = {}
        for gen_length, steps in lengths:
            results[gen_length] = {s.name: futures[(gen_length, s.name)].result() for s in arms_at(gen_length)}
            print_length(gen_length, steps, results[gen_length])
    return results


def print_length(gen_length: int, steps: int, results: dict[str, Timed]) -> None:
    base = results["ML-GSAI generate"]
    header = (f"{'length':>6} {'steps':>5}  {'setting':<38} {'NFE':>5} {'cpu s':>7} {'ms/NFE':>7} {'vs ref':>7} "
              f"{'speedup':>8} {'agree':>6} {'peak MiB':>8} {'ms full':>8} {'ms step':>8}")
    print(header)
    print("-" * len(header))
    for setting in arms_at(gen_length):
        timed = results[setting.name]
        if setting.ours:
            reference = results[setting.reference]
            agree = float((timed.tokens == reference.tokens).float().mean())
            versus, agreement = f"{timed.cpu / reference.cpu:>6.3f}x", f"{agree:>6.3f}"
        else:
            versus, agreement = f"{'ref':>7}", f"{'':>6}"
        print(f"{gen_length:>6} {steps:>5}  {setting.name:<38} {timed.nfe:>5} {timed.cpu:>7.2f} "
              f"{1000 * timed.cpu / timed.nfe:>7.1f} {versus} {base.cpu / timed.cpu:>7.2f}x {agreement} "
              f"{timed.peak_mib:>8.1f} {_ms(timed, 'full'):>8} {_ms(timed, 'step'):>8}", flush=True)
    print()


def _per_call(timed: Timed, kind: str) -> tuple[int, float]:
    """(calls, CPU seconds per call) of one call kind (see :class:`CallClock`; ``"mean"``: all calls)."""
    if kind == "mean":
        return timed.nfe, timed.cpu / timed.nfe
    count, seconds = timed.kinds.get(kind, (0, 0.0))
    return int(count), seconds / max(count, 1)


def _ms(timed: Timed, kind: str) -> str:
    """CPU ms per model call of one kind, ``-`` when there was none."""
    count, seconds = _per_call(timed, kind)
    return f"{1000 * seconds:.1f}" if count else "-"


def print_goals(results: dict[int, dict[str, Timed]]) -> None:
    """Issue 24's goals, measured."""
    def ratio(length: int, name: str, over: str = "ML-GSAI generate") -> float | None:
        runs = results.get(length)
        return None if runs is None else runs[name].cpu / runs[over].cpu

    goals = [
        ("llada / ML-GSAI generate at 256 <= 0.30", ratio(256, "llada"), lambda r: r <= 0.30),
        ("llada / ML-GSAI generate at 64 <= 0.40", ratio(64, "llada"), lambda r: r <= 0.40),
        ("dual cache / ML-GSAI generate at 256 <= 0.127", ratio(256, "fastdllm, dual cache"), lambda r: r <= 0.127),
        ("dual cache / ML-GSAI generate at 1024 <= 1/19", ratio(1024, "fastdllm, dual cache"), lambda r: r <= 1 / 19),
    ]
    print("goals (CPU time ratios):")
    for text, value, met in goals:
        shown = "not run" if value is None else f"{value:.3f} ({1 / value:.1f}x faster): " + \
            ("met" if met(value) else "NOT met")
        print(f"  {text:<48} {shown}")
    for length, runs in results.items():
        for cache in ("no", "prefix", "dual"):
            plain = runs.get(f"fastdllm, {cache} cache")
            fast = runs.get(f"fastdllm, {cache} cache, threshold {THRESHOLD}")
            if plain is not None and fast is not None:
                print(f"  {length:>5} {cache + ' cache':<14} threshold vs without, ms per forward: "
                      + "; ".join(_per_kind(kind, fast, plain) for kind in ("mean", "full", "step")
                                  if kind == "mean" or kind in fast.kinds))


def _per_kind(kind: str, fast: Timed, plain: Timed) -> str:
    """``"full (8 / 8) 30.1 vs 29.5 ok"``: CPU ms per forward of one call kind (``"mean"``: all calls),
    calls counted, threshold run against its twin; ``ok`` when at most 2% slower."""
    (n_fast, ms_fast), (n_plain, ms_plain) = _per_call(fast, kind), _per_call(plain, kind)
    verdict = "ok" if ms_fast <= ms_plain * 1.02 else "SLOWER"
    return f"{kind} ({n_fast} / {n_plain}) {1000 * ms_fast:.1f} vs {1000 * ms_plain:.1f} {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-1024", action="store_true", help="skip gen length 1024 (a quick run)")
    parser.add_argument("--lengths", type=int, nargs="+", help="only these gen lengths (64, 256, 1024)")
    parser.add_argument("--jobs", type=int, default=1, help="settings run at once, one process and thread each")
    parser.add_argument("--head-scale", type=float, default=16.0, help="LM-head init scale")
    parser.add_argument("--block", action="store_true", help="the block-diffusion comparison only")
    parser.add_argument("--one", type=int, nargs=3, help=argparse.SUPPRESS)  # arm, gen length, steps
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.one:
        report_one(*args.one, args.head_scale)
        return
    if args.block:
        block_comparison()
        return
    lengths = [(g, s) for g, s in GRID if (args.lengths is None or g in args.lengths) and not (args.no_1024 and g == 1024)]
    print(f"torch {torch.__version__}, 1 thread per run; random LLaDA d_model 256, 4 layers, vocab {VOCAB}; "
          f"prompt {PROMPT_LENGTH}, blocks of {BLOCK_LENGTH}, batch 1, greedy", flush=True)
    print_goals(side_by_side(lengths, args.jobs, args.head_scale))


# ---------------------------------------------------------------------------------------------
# Block diffusion (--block)
# ---------------------------------------------------------------------------------------------

TINY_VOCAB, TINY_PROMPT = 1024, 16
#: (block generator, its parameters, llada steps per block giving the same NFE)
BLOCK_SETTINGS = [
    (BD3LM, dict(steps_per_block=4), 5),
    (LLADA2, dict(steps=4, threshold=1.0), 4),
]
BLOCK = 32


def _timed(call: Callable[[], tuple[torch.Tensor, int]]) -> Timed:
    wall, cpu = time.perf_counter(), time.process_time()
    tokens, nfe = call()
    return Timed(tokens, nfe, time.perf_counter() - wall, time.process_time() - cpu, 0.0)


def run_block(generator: BlockGenerator, model: nn.Module, prompt: torch.Tensor, gen_length: int,
              params: dict[str, Any]) -> Timed:
    special = SpecialTokens(mask_token_id=TINY_VOCAB - 1, eos_token_id=None, pad_token_id=TINY_VOCAB - 2)
    length = {generator.roles.length: gen_length, generator.roles.block: BLOCK}

    def call() -> tuple[torch.Tensor, int]:
        out = generate_blocks(model, prompt, preset=generator, special=special, **length, **params)
        return out.sequences, out.nfe

    return _timed(call)


def run_llada(model: nn.Module, prompt: torch.Tensor, steps: int, gen_length: int) -> Timed:
    def call() -> tuple[torch.Tensor, int]:
        out = generate(model, prompt, preset=LLADA, steps=steps, gen_length=gen_length, block_length=BLOCK)
        return out.sequences, out.nfe

    return _timed(call)


def block_comparison(repeats: int = 2) -> None:
    """The block generators against ``llada`` at equal NFE, and bd3lm's speed against the length;
    each run ``repeats`` times, the runs taking turns, the fastest counting."""
    model = random_llada(d_model=128, vocab=TINY_VOCAB, head_scale=8.0)
    prompt = torch.randint(0, TINY_VOCAB - 2, (1, TINY_PROMPT), generator=torch.Generator().manual_seed(1))
    for generator, params, _ in BLOCK_SETTINGS:  # warm-up
        run_block(generator, model, prompt, 2 * BLOCK, params)
    gen_length, blocks = 1024, 1024 // BLOCK
    runs: dict[str, Callable[[], Timed]] = {}
    for generator, params, llada_steps in BLOCK_SETTINGS:
        runs[f"llada, {llada_steps} steps per block"] = lambda steps=llada_steps: run_llada(
            model, prompt, steps * blocks, gen_length)
        runs[generator.name] = lambda generator=generator, params=params: run_block(
            generator, model, prompt, gen_length, params)
    for length in (256, 1024):
        runs[f"bd3lm at {length}"] = lambda length=length: run_block(BD3LM, model, prompt, length,
                                                                     dict(steps_per_block=4))
    best: dict[str, Timed] = {}
    for _ in range(repeats):
        for name, call in runs.items():
            timed = call()
            if name not in best or timed.cpu < best[name].cpu:
                best[name] = timed
    header = f"{'length':>6} {'block':>5}  {'setting':<28} {'NFE':>5} {'wall s':>7} {'cpu s':>7} {'tok/s':>7} " \
             f"{'speedup':>8}"
    print(f"block diffusion (tiny LLaDA d_model 128, vocab {TINY_VOCAB}, prompt {TINY_PROMPT}, blocks of {BLOCK})")
    print(header)
    print("-" * len(header))
    for generator, _, llada_steps in BLOCK_SETTINGS:
        base = best[f"llada, {llada_steps} steps per block"]
        for name in (f"llada, {llada_steps} steps per block", generator.name):
            timed = best[name]
            print(f"{gen_length:>6} {BLOCK:>5}  {name:<28} {timed.nfe:>5} {timed.wall:>7.2f} {timed.cpu:>7.2f} "
                  f"{gen_length / timed.cpu:>7.1f} {base.cpu / timed.cpu:>7.2f}x", flush=True)
    rates = {}
    for length in (256, 1024):
        timed = best[f"bd3lm at {length}"]
        rates[length] = length / timed.cpu
        print(f"{length:>6} {BLOCK:>5}  {'bd3lm, 4 steps per block':<28} {timed.nfe:>5} {timed.wall:>7.2f} "
              f"{timed.cpu:>7.2f} {rates[length]:>7.1f}", flush=True)
    print(f"bd3lm tokens/s at 1024 are {rates[1024] / rates[256]:.2f} of those at 256")


if __name__ == "__main__":
    main()
