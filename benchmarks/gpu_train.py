"""Training throughput of a ~1B-parameter LLaDA on one GPU: full bf16, then QLoRA (LoRA over 4-bit).

Run from the repository root on a GPU machine (one prepared script, a few minutes):

    HF_HUB_OFFLINE=1 python benchmarks/gpu_train.py                # llada "1b" preset, 20 steps each
    HF_HUB_OFFLINE=1 python benchmarks/gpu_train.py --smoke        # tiny preset on the CPU: checks the script

Phase 1 builds the family's ``--preset`` (LLaDA 1B of the paper: 22 layers, d 2048, ~1.5B
parameters with its 126k-token embeddings) and trains it with ``DiffusionTrainer`` and the
masked-diffusion objective, in bf16, on random token sequences of ``--seq-len`` (the speed does
not depend on the tokens). Phase 2 saves those weights, reloads them in 4-bit NF4 with double
quantisation (bitsandbytes) and trains a LoRA adapter (rank 16, every linear layer), as
``dllm train --model ... --load-in-4bit`` does. Each phase prints, over the steps after
``--warmup``:

* tokens/s: batch x sequence length per optimiser step over the mean step time;
* peak memory: ``torch.cuda.max_memory_allocated`` (the process's RSS growth on the CPU);
* MFU: model FLOPs per second over the GPU's peak bf16 dense FLOPs (``--peak-tflops``, known for
  H100/H200/A100). Model FLOPs per token are ``6 N + 12 L d S`` for full training (N the
  parameters in matmuls, L layers, d width, S sequence length: forward, backward and attention)
  and ``4 N + 12 L d S`` for LoRA over frozen weights (no weight gradients).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import TrainerCallback, TrainingArguments

from dllm_core.checkpoint import load_model, register_family_classes
from dllm_core.objectives import MaskedDiffusionObjective
from dllm_core.registry import get_registry, load_reference
from dllm_core.training import DiffusionTrainer
from dllm_core.training.adapters import add_lora, four_bit_config
from dllm_core.training.run_config import TrainRunConfig

#: peak dense bf16 TFLOP/s by a substring of the device name
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0}


@dataclass
class Settings:
    family: str
    preset: str
    steps: int
    warmup: int
    batch_size: int
    seq_len: int
    device: str
    gradient_checkpointing: bool
    peak_tflops: float | None
    skip_qlora: bool


@dataclass
class PhaseResult:
    name: str
    parameters: int  # all parameters (trainable or not)
    trainable: int
    tokens_per_second: float
    peak_memory_gib: float
    mfu: float | None


class StepTimer(TrainerCallback):
    """Wall time of each optimiser step (the device synchronised at both ends)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        _synchronize()
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        _synchronize()
        self.times.append(time.perf_counter() - self._start)


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class RandomTokens(torch.utils.data.Dataset):
    """``size`` rows of ``length`` random ids below ``vocab`` (the mask id excluded), all labelled."""

    def __init__(self, size: int, length: int, vocab: int, mask_id: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.rows = torch.randint(0, vocab - 1, (size, length), generator=generator)
        self.rows[self.rows >= mask_id] += 1  # never the mask token itself

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.rows[index], "labels": self.rows[index].clone()}


def build_preset_model(settings: Settings) -> torch.nn.Module:
    family = get_registry().families.get(settings.family)
    register_family_classes(family)
    values = dict(family.presets[settings.preset])
    if values.get("vocab_size") is None:  # the tiny preset takes its vocabulary from a tokenizer
        values.update(vocab_size=512, embedding_size=None, mask_token_id=511, eos_token_id=510, pad_token_id=510)
    config = load_reference(family.config_class)(**values)
    torch.manual_seed(0)
    return load_reference(family.model_class)(config)


def matmul_parameters(model: torch.nn.Module) -> int:
    """Parameters of the linear layers (the LM head included): what the 6N rule counts."""
    total = 0
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if isinstance(module, torch.nn.Linear) or type(module).__name__ == "Linear4bit":
            total += module.in_features * module.out_features
        elif weight is not None and weight.ndim == 2 and not isinstance(module, torch.nn.Embedding):
            total += weight.numel()
    return total


def train_phase(name: str, model: torch.nn.Module, settings: Settings, lora: bool, workdir: Path) -> PhaseResult:
    config = model.config
    mask_id = config.mask_token_id
    data = RandomTokens(settings.batch_size * (settings.steps + 1), settings.seq_len, config.vocab_size, mask_id)
    timer = StepTimer()
    cpu = settings.device == "cpu"
    args = TrainingArguments(
        output_dir=str(workdir / name), max_steps=settings.steps, per_device_train_batch_size=settings.batch_size,
        learning_rate=1e-4, lr_scheduler_type="constant", bf16=True, use_cpu=cpu, report_to=[],
        save_strategy="no", logging_steps=max(1, settings.steps // 4), disable_tqdm=True,
        gradient_checkpointing=settings.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False}, dataloader_num_workers=0,
        remove_unused_columns=False, seed=0,
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    trainer = DiffusionTrainer(model, args, objective=MaskedDiffusionObjective(), train_dataset=data,
                               callbacks=[timer])
    trainer.train()
    timed = timer.times[settings.warmup:]
    tokens_per_second = settings.batch_size * settings.seq_len / (sum(timed) / len(timed))
    if torch.cuda.is_available():
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 2**20  # KiB -> GiB
    layers = getattr(config, "n_layers", getattr(config, "num_hidden_layers", 0))
    width = getattr(config, "d_model", getattr(config, "hidden_size", 0))
    flops_per_token = (4 if lora else 6) * matmul_parameters(model) + 12 * layers * width * settings.seq_len
    mfu = (tokens_per_second * flops_per_token / (settings.peak_tflops * 1e12)
           if settings.peak_tflops else None)
    return PhaseResult(
        name=name,
        parameters=sum(p.numel() for p in model.parameters()),
        trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
        tokens_per_second=tokens_per_second, peak_memory_gib=peak, mfu=mfu,
    )


def report(result: PhaseResult) -> None:
    mfu = f"{100 * result.mfu:.1f}%" if result.mfu is not None else "n/a (no --peak-tflops)"
    print(f"{result.name:>14}: {result.tokens_per_second:10.0f} tokens/s  peak memory {result.peak_memory_gib:6.2f} GiB"
          f"  MFU {mfu}  parameters {result.parameters / 1e6:.1f}M (trainable {result.trainable / 1e6:.2f}M)",
          flush=True)


def parse_settings(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="llada")
    parser.add_argument("--preset", default="1b")
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps per phase")
    parser.add_argument("--warmup", type=int, default=5, help="first steps left out of the timing")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--no-gradient-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak dense bf16 TFLOP/s (for MFU)")
    parser.add_argument("--skip-qlora", action="store_true", help="only the full bf16 phase")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny preset, 3 steps, short sequences, on the CPU: checks the script runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.preset, args.steps, args.warmup, args.batch_size, args.seq_len = "tiny", 3, 1, 2, 64
    if args.steps <= args.warmup:
        parser.error(f"--steps ({args.steps}) must exceed --warmup ({args.warmup})")
    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    if device == "cpu" and not args.smoke:
        parser.error("no CUDA device: run with --smoke on a CPU, or on a GPU machine")
    peak = args.peak_tflops
    if peak is None and device == "cuda":
        name = torch.cuda.get_device_name()
        peak = next((value for key, value in PEAK_TFLOPS.items() if key in name), None)
    family = get_registry().families.get(args.family)
    if args.preset not in family.presets:
        parser.error(f"{args.family} has no preset {args.preset!r}; presets: {', '.join(family.presets)}")
    return Settings(args.family, args.preset, args.steps, args.warmup, args.batch_size, args.seq_len, device,
                    not args.no_gradient_checkpointing, peak, args.skip_qlora)


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    device = torch.cuda.get_device_name() if settings.device == "cuda" else "CPU (smoke run)"
    print(f"device: {device}; {settings.family} preset {settings.preset}, batch {settings.batch_size} x "
          f"{settings.seq_len} tokens, {settings.steps} steps ({settings.warmup} warm-up)", flush=True)
    with tempfile.TemporaryDirectory(prefix="dllm-gpu-train-") as tmp:
        workdir = Path(tmp)
        model = build_preset_model(settings)
        report(train_phase("full bf16", model, settings, lora=False, workdir=workdir))
        if settings.skip_qlora:
            return 0
        saved = workdir / "weights"
        model.save_pretrained(saved)
        del model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        quantized = load_model(saved, get_registry().families.get(settings.family),
                               quantization_config=four_bit_config(bf16=True),
                               device_map={"": 0 if settings.device == "cuda" else "cpu"})
        qlora = TrainRunConfig(data="random tokens", output_dir=workdir, load_in_4bit=True)  # dllm train's adapter
        adapter = add_lora(quantized, qlora.lora_options, quantized=True,
                           gradient_checkpointing=settings.gradient_checkpointing)
        report(train_phase("QLoRA 4-bit", adapter, settings, lora=True, workdir=workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
