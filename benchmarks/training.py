"""Training overhead of ``DiffusionTrainer`` against a plain PyTorch loop.

Run from the repository root (CPU by default; ``--device cuda`` on a GPU machine):

    HF_HUB_OFFLINE=1 python benchmarks/training.py
    HF_HUB_OFFLINE=1 python benchmarks/training.py --steps 60 --batch-size 64 --hidden 128 --device cuda

Both runs train the same tiny bidirectional Llama (same initial weights) with the
``masked-diffusion`` objective on the same batches of 4x4 sudoku puzzles (``sudoku4`` task:
prompt grid, separator, solution grid; the prompt carries label -100), with the same optimiser
(AdamW, constant learning rate, gradient clipping at 1.0) and the same noise: the plain loop
seeds each step's generator as ``DiffusionTrainer`` does (``seed * 1_000_003 + step``). The plain
loop calls ``objective.loss`` / ``backward`` / ``clip_grad_norm_`` / ``step`` itself; the other
run is ``DiffusionTrainer.train``. Steps after ``--warmup`` are timed in CPU time of the process
(``time.process_time``: other jobs on a shared machine slow the wall clock, much less the CPU
time a single-threaded run spends), runs alternate
``--repeats`` times, and the best and the median run of each are printed as tokens per second
(batch x length per step) with their ratios (on a shared machine the best runs are the least
disturbed; hence also one CPU thread by default, ``--threads`` to change); the trainer should
cost at most a few percent more. The mean training losses and the largest parameter
difference between the two runs confirm they computed the same thing.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from dataclasses import dataclass

import torch
from transformers import LlamaConfig, LlamaForCausalLM, TrainerCallback, TrainingArguments, set_seed

from dllm_core.data.tasks.sudoku import Sudoku4Task
from dllm_core.objectives import MaskedDiffusionObjective
from dllm_core.training import DiffusionTrainer

PAD, MASK, SEP = 0, 1, 2
CHARS = "\n01234"  # ids 3.. in this order
VOCAB = 3 + len(CHARS)


@dataclass
class Settings:
    """What both runs share."""

    steps: int
    warmup: int
    batch_size: int
    hidden: int
    layers: int
    learning_rate: float
    seed: int
    device: str


def sudoku_rows(count: int, seed: int) -> dict[str, torch.Tensor]:
    """``count`` puzzles as ``prompt SEP answer`` token rows: ids/labels/attention ``[N, L]``."""
    records = Sudoku4Task(blanks=10).generate(count, seed=seed)
    code = {c: 3 + i for i, c in enumerate(CHARS)}
    rows = [[code[c] for c in r["prompt"]] + [SEP] + [code[c] for c in r["answer"]] for r in records]
    ids = torch.tensor(rows)  # [N, L]: 19 + 1 + 19 tokens
    labels = ids.clone()
    labels[:, : len(records[0]["prompt"]) + 1] = -100  # prompt and separator are never masked
    return {"input_ids": ids, "labels": labels, "attention_mask": torch.ones_like(ids)}


class Rows(torch.utils.data.Dataset):
    def __init__(self, data: dict[str, torch.Tensor]) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data["input_ids"])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: value[index] for key, value in self.data.items()}


def build_model(settings: Settings) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=settings.hidden, intermediate_size=4 * settings.hidden,
        num_hidden_layers=settings.layers, num_attention_heads=4, num_key_value_heads=4,
        max_position_embeddings=64, is_causal=False, pad_token_id=PAD, mask_token_id=MASK,
    )
    torch.manual_seed(settings.seed)
    return LlamaForCausalLM(config)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain_loop(
    model: torch.nn.Module, data: dict[str, torch.Tensor], settings: Settings
) -> tuple[float, float]:
    """Seconds for the timed steps, and the mean training loss."""
    model.to(settings.device).train()
    objective = MaskedDiffusionObjective()
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    set_seed(settings.seed)
    total = torch.zeros((), device=settings.device)
    loader = torch.utils.data.DataLoader(Rows(data), batch_size=settings.batch_size)  # in order
    for step, cpu_batch in enumerate(loader):
        if step == settings.warmup:
            sync(settings.device)
            start = time.process_time()
        batch = {k: v.to(settings.device) for k, v in cpu_batch.items()}
        # the noise the trainer draws for micro-batch ``step`` (one process, no accumulation)
        noise = torch.Generator(device=settings.device).manual_seed((settings.seed * 1_000_003 + step) % 2**63)
        loss = objective.loss(model, batch, generator=noise).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        total += loss.detach()
    sync(settings.device)
    return time.process_time() - start, total.item() / settings.steps


class StepClock(TrainerCallback):
    """Times the steps after ``warmup``."""

    def __init__(self, warmup: int, device: str) -> None:
        self.warmup, self.device = warmup, device
        self.start = self.end = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            sync(self.device)
            self.start = time.process_time()

    def on_train_end(self, args, state, control, **kwargs):
        sync(self.device)
        self.end = time.process_time()


def trainer_run(
    model: torch.nn.Module, data: dict[str, torch.Tensor], settings: Settings
) -> tuple[float, float]:
    """Seconds for the timed steps, and the mean training loss."""
    clock = StepClock(settings.warmup, settings.device)
    with tempfile.TemporaryDirectory() as output_dir:
        args = TrainingArguments(
            output_dir=output_dir, use_cpu=settings.device == "cpu", report_to="none", disable_tqdm=True,
            save_strategy="no", logging_strategy="no", per_device_train_batch_size=settings.batch_size,
            max_steps=settings.steps, learning_rate=settings.learning_rate, lr_scheduler_type="constant",
            weight_decay=0.0, optim="adamw_torch", max_grad_norm=1.0, seed=settings.seed,
            train_sampling_strategy="sequential", dataloader_num_workers=0,
        )
        trainer = DiffusionTrainer(
            model, args, objective=MaskedDiffusionObjective(), train_dataset=Rows(data), callbacks=[clock]
        )
        result = trainer.train()
    return clock.end - clock.start, result.training_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 is steadiest on a shared machine)"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    settings = Settings(
        options.steps, options.warmup, options.batch_size, options.hidden, options.layers,
        options.learning_rate, options.seed, options.device,
    )
    data = sudoku_rows(settings.steps * settings.batch_size, settings.seed)
    tokens = (settings.steps - settings.warmup) * data["input_ids"][: settings.batch_size].numel()
    initial = build_model(settings)
    plain_speeds, trainer_speeds = [], []
    for _ in range(options.repeats):
        plain_model, trainer_model = copy.deepcopy(initial), copy.deepcopy(initial)
        seconds, plain_loss = plain_loop(plain_model, data, settings)
        plain_speeds.append(tokens / seconds)
        seconds, trainer_loss = trainer_run(trainer_model, data, settings)
        trainer_speeds.append(tokens / seconds)
    difference = max(
        (a.detach().cpu() - b.detach().cpu()).abs().max().item()
        for a, b in zip(plain_model.parameters(), trainer_model.parameters())
    )
    print(f"device {settings.device}, {torch.get_num_threads()} threads; batch {settings.batch_size} x "
          f"{data['input_ids'].shape[1]} tokens, hidden {settings.hidden}, {settings.layers} layers, "
          f"{settings.steps - settings.warmup} timed steps, {options.repeats} alternating runs each")
    print(f"{'tokens/s':16} {'best':>9} {'median':>9}   runs")
    for label, speeds in (("plain loop", plain_speeds), ("DiffusionTrainer", trainer_speeds)):
        runs = ", ".join(f"{speed:.0f}" for speed in speeds)
        print(f"{label:16} {max(speeds):9.0f} {statistics.median(speeds):9.0f}   {runs}")
    for label, pick in (("best", max), ("median", statistics.median)):
        ratio = pick(trainer_speeds) / pick(plain_speeds)
        print(f"trainer / plain ({label}): {ratio:.3f}  (trainer costs {100 * (1 / ratio - 1):+.1f}% time)")
    print(f"mean training loss: plain {plain_loss:.6f}, trainer {trainer_loss:.6f}; "
          f"largest parameter difference {difference:.2e}")


if __name__ == "__main__":
    main()
