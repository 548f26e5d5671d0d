"""Generation speed on CPU: the accelerations of the generation loop against our LLaDA baseline.

Run from the repository root (about 5 minutes of one CPU core; ``--quick``: length 64 only;
``--block``: the block-diffusion comparison only):

    HF_HUB_OFFLINE=1 python benchmarks/generation.py
    HF_HUB_OFFLINE=1 python benchmarks/generation.py --quick
    HF_HUB_OFFLINE=1 python benchmarks/generation.py --block

The model is a tiny LLaDA (``LLaDAModelLM``: d_model 128, 4 layers, 4 heads, vocab 1024) with
random weights: embeddings N(0, 1), matrices N(0, 1/fan_in), the LM head scaled by
``--head-scale`` so that, like a trained model, a good share of predictions is confident
(threshold rules need that to commit several tokens at once). One prompt of 16 tokens, one
token per step (``steps = gen_length``) up to length 256, eight per step at 1024. torch runs on
one thread and each run is timed by the CPU time of this process as well as by the wall clock;
tokens per second and speed ratios use the CPU time, which other jobs on a shared machine
barely disturb (on an idle core the two agree). At length 64 each setting runs twice, the
settings taking turns, and the faster run counts.

For each generation length and block size it prints NFE, seconds, generated tokens per second,
the speed ratio against the baseline, and the share of generated tokens equal to the baseline's:

* reference loop: LLaDA's ``generate`` written out plainly in this script (full forward and
  full-vocabulary softmax over the whole canvas every step, a top-k per row); it must produce the
  baseline's tokens and be no faster than it;
* baseline: ``preset="llada"`` with ``slice_logits=False`` (full LM head each step);
* LM-head slicing: the baseline with the LM head run on the current block only;
* prefix cache / dual cache / threshold 0.9 / dual cache + threshold: ``preset="fastdllm"``
  with one acceleration each (no LM-head slicing), and all of them together with slicing;
* EOS early stop: the model wrapped so that it ends its answer (EOS) after a quarter of
  ``gen_length``, as an instruct model would; ``stop_at_eos=True`` against the baseline on that
  same wrapped model.
At length 1024 only the baseline, the reference, slicing and the dual cache run (there the
baseline commits eight tokens per step, more than a 0.9 threshold reaches on this model).

Block diffusion (a second table, same model and prompt, blocks of 32): the block generators run
only the current block's tokens over an exact cache of the finished prefix, so a step costs
about ``block_length / (prompt + gen_length)`` of a full forward. At equal NFE against the
``llada`` preset (LM-head slicing on, its default):

* ``bd3lm`` with 4 steps per block (a prefix call per block too: 5 calls per block) against
  ``llada`` with 5 steps per block;
* ``llada2`` with 4 steps per block and threshold 1.0 (so it commits exactly 8 tokens per step)
  against ``llada`` with 4 steps per block.

Then ``bd3lm``'s tokens per second at length 1024 against length 256 (same blocks and steps per
block): the cost per token grows only with the attention over the longer prefix.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dllm_core.generation import BD3LM, FASTDLLM, LLADA, LLADA2, BlockGenerator, Preset, generate, generate_blocks
from dllm_core.special_tokens import SpecialTokens
from dllm_llada.configuration_llada import LLaDAConfig
from dllm_llada.modeling_llada import LLaDAModelLM

VOCAB = 1024
MASK, EOS = VOCAB - 1, VOCAB - 2
PROMPT_LENGTH = 16


def tiny_llada(head_scale: float, seed: int = 0) -> LLaDAModelLM:
    """A random LLaDA with confident predictions (see the module doc)."""
    config = LLaDAConfig(d_model=128, n_heads=4, n_kv_heads=4, n_layers=4, mlp_hidden_size=512,
                         vocab_size=VOCAB, embedding_size=VOCAB, max_sequence_length=2048,
                         mask_token_id=MASK, eos_token_id=EOS, pad_token_id=EOS)
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


class AnswerEndsAt(nn.Module):
    """The model, with +1000 on the EOS logit at positions >= ``end``: its answers end there."""

    def __init__(self, model: nn.Module, end: int):
        super().__init__()
        self.model, self.end, self.config = model, end, model.config

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None = None,
                logits_to_keep: Any = None, **kwargs: Any) -> Any:
        out = self.model(input_ids, position_ids=position_ids, logits_to_keep=logits_to_keep, **kwargs)
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1])[None]
        kept = position_ids[:, logits_to_keep] if isinstance(logits_to_keep, slice) else position_ids
        out.logits[..., EOS] += 1000.0 * (kept >= self.end)
        return out


@torch.no_grad()
def reference_generate(model: nn.Module, prompt: torch.Tensor, steps: int, gen_length: int,
                       block_length: int) -> tuple[torch.Tensor, int]:
    """LLaDA's ``generate`` at temperature 0, written out plainly (see the module doc)."""
    batch, prompt_length = prompt.shape
    x = torch.full((batch, prompt_length + gen_length), MASK)
    x[:, :prompt_length] = prompt
    num_blocks = gen_length // block_length
    steps_per_block = steps // num_blocks
    nfe = 0
    for block in range(num_blocks):
        start = prompt_length + block * block_length
        end = start + block_length
        masked = (x[:, start:end] == MASK).sum(dim=1)
        counts = [masked // steps_per_block + (i < masked % steps_per_block).long()
                  for i in range(steps_per_block)]
        for step in range(steps_per_block):
            is_mask = x == MASK
            logits = model(x).logits  # [B, L, V]
            nfe += 1
            prediction = logits.argmax(dim=-1)
            probability = torch.softmax(logits, dim=-1).gather(-1, prediction[..., None])[..., 0]
            probability[:, end:] = -torch.inf
            confidence = torch.where(is_mask, probability, -torch.inf)
            for row in range(batch):
                chosen = torch.topk(confidence[row], int(counts[step][row])).indices
                x[row, chosen] = prediction[row, chosen]
    return x, nfe


@dataclass(frozen=True)
class Setting:
    name: str
    preset: Preset | None  # None: the reference loop
    params: dict[str, Any] = field(default_factory=dict)
    ending: bool = False  # run on the model whose answers end early
    long: bool = True  # also run at length 1024


#: (gen_length, block_length, steps, repeats): one token per step up to 256, eight at 1024
GRID = [(64, 16, 64, 2), (64, 32, 64, 2), (256, 32, 256, 1), (1024, 128, 128, 1)]

SETTINGS = [
    Setting("baseline (llada)", LLADA, dict(slice_logits=False)),
    Setting("reference loop", None),
    Setting("LM-head slicing", LLADA),
    Setting("prefix cache", FASTDLLM, dict(use_cache="prefix", slice_logits=False), long=False),
    Setting("dual cache", FASTDLLM, dict(use_cache="dual", slice_logits=False)),
    Setting("threshold 0.9", FASTDLLM, dict(threshold=0.9, slice_logits=False), long=False),
    Setting("dual cache + threshold", FASTDLLM, dict(use_cache="dual", threshold=0.9, slice_logits=False),
            long=False),
    Setting("dual + threshold + slicing", FASTDLLM, dict(use_cache="dual", threshold=0.9), long=False),
    Setting("baseline, answer ends at 1/4", LLADA, dict(slice_logits=False), ending=True, long=False),
    Setting("EOS early stop", LLADA, dict(slice_logits=False, stop_at_eos=True), ending=True, long=False),
]


@dataclass
class Timed:
    tokens: torch.Tensor
    nfe: int
    wall: float  # seconds
    cpu: float  # CPU seconds of this process


def run(setting: Setting, model: nn.Module, prompt: torch.Tensor, steps: int, gen_length: int,
        block_length: int) -> Timed:
    wall, cpu = time.perf_counter(), time.process_time()
    if setting.preset is None:
        tokens, nfe = reference_generate(model, prompt, steps, gen_length, block_length)
    else:
        out = generate(model, prompt, preset=setting.preset, steps=steps, gen_length=gen_length,
                       block_length=block_length, **setting.params)
        tokens, nfe = out.sequences, out.nfe
    return Timed(tokens, nfe, time.perf_counter() - wall, time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="length 64 only")
    parser.add_argument("--block", action="store_true", help="the block-diffusion comparison only")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU times add up)")
    parser.add_argument("--head-scale", type=float, default=8.0, help="LM-head init scale")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = tiny_llada(args.head_scale)
    prompt = torch.randint(0, VOCAB - 2, (1, PROMPT_LENGTH), generator=torch.Generator().manual_seed(1))
    grid = [] if args.block else GRID[:2] if args.quick else GRID
    generate(model, prompt, preset=LLADA, steps=8, gen_length=8, block_length=8)  # warm-up
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); tiny LLaDA d_model 128, "
          f"4 layers, vocab {VOCAB}; prompt {PROMPT_LENGTH} tokens, batch 1")
    header = f"{'length':>6} {'block':>5} {'steps':>5}  {'setting':<28} {'NFE':>5} {'wall s':>7} " \
             f"{'cpu s':>7} {'tok/s':>7} {'speedup':>8} {'agree':>6}"
    print(header)
    print("-" * len(header))
    for gen_length, block_length, steps, repeats in grid:
        ending = AnswerEndsAt(model, PROMPT_LENGTH + gen_length // 4)
        settings = [s for s in SETTINGS if s.long or gen_length < 1024]
        results: dict[str, Timed] = {}
        for _ in range(repeats):  # interleaved, so a busy moment does not hit one setting only
            for setting in settings:
                timed = run(setting, ending if setting.ending else model, prompt, steps, gen_length,
                            block_length)
                if setting.name not in results or timed.cpu < results[setting.name].cpu:
                    results[setting.name] = timed
        baselines = {s.ending: results[s.name] for s in settings if s.name.startswith("baseline")}
        for setting in settings:
            timed, base = results[setting.name], baselines[setting.ending]
            generated = slice(PROMPT_LENGTH, None)
            agree = float((timed.tokens[:, generated] == base.tokens[:, generated]).float().mean())
            print(f"{gen_length:>6} {block_length:>5} {steps:>5}  {setting.name:<28} {timed.nfe:>5} "
                  f"{timed.wall:>7.2f} {timed.cpu:>7.2f} {gen_length / timed.cpu:>7.1f} "
                  f"{base.cpu / timed.cpu:>7.2f}x {agree:>6.2f}", flush=True)
        print()
    if not args.quick:
        block_comparison(model, prompt)


#: (block generator, its parameters, llada steps per block giving the same NFE)
BLOCK_SETTINGS = [
    (BD3LM, dict(steps_per_block=4), 5),
    (LLADA2, dict(steps=4, threshold=1.0), 4),
]
BLOCK = 32


def run_block(generator: BlockGenerator, model: nn.Module, prompt: torch.Tensor, gen_length: int,
              params: dict[str, Any]) -> Timed:
    special = SpecialTokens(mask_token_id=MASK, eos_token_id=None, pad_token_id=EOS)
    length = {generator.roles.length: gen_length, generator.roles.block: BLOCK}
    wall, cpu = time.perf_counter(), time.process_time()
    out = generate_blocks(model, prompt, preset=generator, special=special, **length, **params)
    tokens = out.sequences[:, -gen_length:] if generator is BD3LM else out.sequences[:, PROMPT_LENGTH:]
    return Timed(tokens[:, :gen_length], out.nfe, time.perf_counter() - wall, time.process_time() - cpu)


def block_comparison(model: nn.Module, prompt: torch.Tensor, repeats: int = 2) -> None:
    """The block generators against ``llada`` at equal NFE, and bd3lm's speed against the length;
    each run ``repeats`` times, the runs taking turns, the fastest counting."""
    for generator, params, _ in BLOCK_SETTINGS:  # warm-up
        run_block(generator, model, prompt, 2 * BLOCK, params)
    gen_length, blocks = 1024, 1024 // BLOCK
    runs: dict[str, Any] = {}
    for generator, params, llada_steps in BLOCK_SETTINGS:
        runs[f"llada, {llada_steps} steps per block"] = lambda steps=llada_steps: run(
            Setting("llada", LLADA), model, prompt, steps * blocks, gen_length, BLOCK)
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
    print(f"block diffusion (blocks of {BLOCK}, EOS never ends an answer)")
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
