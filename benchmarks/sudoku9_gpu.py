"""9x9 sudoku, masked diffusion against autoregression at ~6M parameters: one script for a GPU.

Run from the repository root on a machine with one CUDA GPU (about 8 minutes of an H100 for
everything: puzzle generation, both trainings, both evaluations), or with ``--smoke`` on a CPU
(a minute or two; more on a busy machine) to check that it runs:

    HF_HUB_OFFLINE=1 python benchmarks/sudoku9_gpu.py --output-dir /tmp/sudoku9 && cp /tmp/sudoku9/sudoku9.* "$OUT"
    HF_HUB_OFFLINE=1 python benchmarks/sudoku9_gpu.py --smoke --output-dir /tmp/sudoku9-smoke

The setting of Ye et al. 2024 ("Beyond Autoregression", arXiv 2410.14157), where a 6M-parameter
masked diffusion model solves 100% of 9x9 sudoku and an autoregressive one of the same size about
21%, with their tiny shape: 3 layers, width 384, 12 heads (the SwiGLU size makes ~6M parameters).

* puzzles: the ``sudoku9`` task (``--blanks`` blank cells, a unique solution), generated on all
  CPU cores; train and test splits are disjoint by construction;
* MDM: a LLaDA model of that shape (the ``tiny`` preset's other settings) saved as an initial
  checkpoint and trained by ``run_training`` with masked diffusion; sampled one token per step
  over the 90-token answer (the demo's plain setting);
* AR: ``transformers.LlamaForCausalLM`` of the same shape, trained by ``transformers.Trainer``
  with the causal LM loss on the same tokenized examples and ``TrainingArguments``; greedy.

Both train for ``--steps`` optimizer steps of ``--batch-size`` puzzles in bf16 with the demo's
schedule (cosine with warmup) at ``--learning-rate``. It prints the parameter counts, the
training times, both solve rates and the total wall time, and writes ``sudoku9.json`` and
``sudoku9.png`` into ``--output-dir`` (with the MDM checkpoints).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _quality_common import (  # the helper module sits beside this script
    AR,
    EVAL_SEED,
    GENERATED,
    MDM,
    EvalSet,
    TaskSetting,
    answer_tokens,
    ar_answers,
    demo_recipe,
    mdm_answers,
    model_table,
    plain_generation,
    results_json,
    run_tokenizer,
    score,
    score_table,
    timed,
    train_ar,
    train_mdm,
    write_chart,
)

from dllm_core.data.tasks.base import Record
from dllm_core.data.tasks.sudoku import Sudoku9Task

#: Ye et al.'s tiny shape; mlp_hidden_size 1216 brings the LLaDA/Llama model to about 6.0M parameters
YE_TINY = {"n_layers": 3, "d_model": 384, "n_heads": 12, "n_kv_heads": 12, "mlp_hidden_size": 1216}
YE_PRESET = "ye-tiny"
EVAL_BATCH = 250


@dataclass
class Settings:
    """The budget of one run; the defaults fit about 8 minutes of an H100."""

    output_dir: Path = Path("runs/sudoku9_gpu")
    blanks: int = 40  # blank cells per puzzle
    train_puzzles: int = 20000
    eval_count: int = 500
    steps: int = 3000  # optimizer steps of each model
    batch_size: int = 256
    learning_rate: float = 1e-3  # the demo's 2e-3 is tuned for batches of 32
    processes: int = max(1, multiprocessing.cpu_count())  # puzzle generation workers
    device: str = "cuda"


SMOKE = {"train_puzzles": 64, "eval_count": 4, "steps": 4, "batch_size": 8, "device": "cpu"}


def parse_settings(argv: list[str] | None) -> Settings:
    import torch

    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=defaults.output_dir)
    for name in ("blanks", "train_puzzles", "eval_count", "steps", "batch_size", "processes"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--smoke", action="store_true", help="a tiny run on the CPU to check the script")
    args = vars(parser.parse_args(argv))
    smoke = args.pop("smoke")
    settings = Settings(**args)
    if smoke:
        return dataclasses.replace(settings, **SMOKE)
    if not torch.cuda.is_available():
        parser.error("no CUDA device: this script is for a GPU machine (--smoke runs a tiny check on the CPU)")
    return settings


def _puzzle_chunk(job: tuple[int, int, int, str]) -> list[Record]:
    blanks, count, seed, split = job
    return Sudoku9Task(blanks=blanks).generate(count, seed=seed, split=split)


def generate_puzzles(settings: Settings, count: int, seed: int, split: str) -> list[Record]:
    """``count`` distinct puzzles of ``split``, generated in one chunk per worker (seed per chunk)."""
    sizes = [count // settings.processes + (i < count % settings.processes) for i in range(settings.processes)]
    jobs = [(settings.blanks, size, seed * 1000 + i, split) for i, size in enumerate(sizes) if size]
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        chunks = pool.map(_puzzle_chunk, jobs)
    unique = {record["prompt"]: record for chunk in chunks for record in chunk}
    return list(unique.values())


def initial_mdm(folder: Path, seed: int) -> Any:
    """Save a freshly initialised LLaDA of Ye et al.'s shape (char tokenizer) into ``folder``;
    returns its config. The shape is the ``tiny`` preset with :data:`YE_TINY` over it."""
    from transformers import set_seed

    from dllm_core.checkpoint import CheckpointInfo, save_checkpoint
    from dllm_core.data.tokenizer import build_char_tokenizer
    from dllm_core.registry import get_registry, load_reference
    from dllm_core.special_tokens import adapt_tokenizer
    from dllm_core.model_config import preset_config

    family = get_registry().families.get("llada")
    family = dataclasses.replace(family, presets={YE_PRESET: {**family.presets["tiny"], **YE_TINY}})
    tokenizer = adapt_tokenizer(build_char_tokenizer(), family)
    config = preset_config(family, YE_PRESET, tokenizer)
    set_seed(seed)
    model = load_reference(family.model_class)(config)
    save_checkpoint(model, tokenizer, folder, CheckpointInfo(family=family.name, extra={"preset": YE_PRESET}))
    return config


def main(argv: list[str] | None = None) -> None:
    import torch

    started = time.perf_counter()
    settings = parse_settings(argv)
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    recipe = demo_recipe()
    setting = TaskSetting("sudoku9", "sudoku9", {"blanks": settings.blanks})
    task = setting.build()

    generating = time.perf_counter()
    train = generate_puzzles(settings, settings.train_puzzles, recipe.seed, "train")
    test = generate_puzzles(settings, settings.eval_count, EVAL_SEED, "test")
    generation_seconds = time.perf_counter() - generating
    print(f"generated {len(train)} train and {len(test)} test puzzles ({settings.blanks} blanks) "
          f"in {generation_seconds:.0f} s on {settings.processes} processes", flush=True)
    train_file = settings.output_dir / "train.jsonl"
    train_file.write_text("".join(json.dumps(record) + "\n" for record in train))

    mdm_config = initial_mdm(settings.output_dir / "mdm-init", recipe.seed)
    run = dataclasses.replace(
        recipe, data=f"{train_file.resolve()}[train:{len(train)},test:0]", model=str(settings.output_dir / "mdm-init"),
        preset=None, output_dir=settings.output_dir / "mdm", max_steps=settings.steps,
        batch_size=settings.batch_size, learning_rate=settings.learning_rate, bf16=settings.device == "cuda",
        logging_steps=max(1, settings.steps // 10), disable_progress_bar=True)
    length = answer_tokens(run_tokenizer(run), train)
    run.generator_defaults = plain_generation(length)
    ar_run = dataclasses.replace(run, output_dir=settings.output_dir / "ar")
    dtype = torch.bfloat16 if settings.device == "cuda" else None
    eval_set = EvalSet(GENERATED, test)
    prompts = [record["prompt"] for record in test]

    print(f"\n== training the MDM ({settings.steps} steps x batch {settings.batch_size})", flush=True)
    mdm = train_mdm(run)
    answers, seconds = timed(mdm_answers, run.output_dir, prompts, length, EVAL_BATCH, settings.device, dtype)
    scores = [score(task, setting, eval_set, MDM, answers, seconds)]

    print(f"\n== training the AR baseline ({settings.steps} steps x batch {settings.batch_size})", flush=True)
    model, tokenizer, ar = train_ar(ar_run, mdm_config)
    model = model.to(settings.device, dtype=dtype)
    answers, seconds = timed(ar_answers, model, tokenizer, prompts, length, EVAL_BATCH)
    scores.append(score(task, setting, eval_set, AR, answers, seconds))

    trained = {setting.label: [mdm, ar]}
    wall = time.perf_counter() - started
    title = (f"9x9 sudoku ({settings.blanks} blanks), same budget: {settings.steps} steps x batch "
             f"{settings.batch_size}, lr {settings.learning_rate:g} {recipe.lr_scheduler_type}")
    budget = {**{k: str(v) for k, v in dataclasses.asdict(settings).items()}, "lr_scheduler": recipe.lr_scheduler_type,
              "warmup_ratio": recipe.warmup_ratio, "device": torch.cuda.get_device_name() if settings.device == "cuda"
              else "cpu", "wall_seconds": wall, "generation_seconds": generation_seconds}
    print("\n" + model_table(trained))
    print("\n" + score_table(scores))
    for s in scores:
        print(f"{s.model}: generation {s.seconds:.1f} s for {s.count} puzzles")
    print(f"\n{title}\ndevice {budget['device']}, wall time {wall:.0f} s")
    (settings.output_dir / "sudoku9.json").write_text(results_json(scores, trained, budget))
    write_chart(scores, settings.output_dir / "sudoku9.png", title)


if __name__ == "__main__":
    main()
