"""Does a tiny DiffusionGemma learn the demo's 4x4 sudoku? Solve rates at the demo's training
budget and at 3x it.

Run from the repository root (offline; a GPU is used when torch sees one):

    HF_HUB_OFFLINE=1 python benchmarks/diffusiongemma_learning.py                  # 1000 and 3000 steps
    HF_HUB_OFFLINE=1 python benchmarks/diffusiongemma_learning.py --max-steps 300
    HF_HUB_OFFLINE=1 python benchmarks/diffusiongemma_learning.py --smoke          # wiring, about a minute

Each run trains the family's ``tiny`` preset from scratch with its default objective
(``uniform-block-diffusion``, ours: see docs/diffusiongemma.md) on the demo's recipe
(``dllm_llada.demo.train_run_config``: the same generated ``sudoku4`` train split, batch,
learning rate, cosine schedule, warmup, weight decay and seed); only the family, the preset and
the number of optimizer steps differ. ``--max-steps`` takes several budgets (default: the
demo's and 3x it), trained as separate runs.

Each checkpoint, and an untrained model of the same preset, is sampled through
``InferenceSession.load`` with the ``diffusiongemma`` generator on the held-out puzzles of the
bundled ``dllm_sudoku4`` task, answers scored by the task's own checker (any valid grid counts):
20 answer tokens (19 grid characters and EOS, one canvas) with at most ``--denoising-steps``
denoising steps (default 20, the demo's budget of forward calls) and the generator's defaults
otherwise. Printed and written to ``--output-dir``/``diffusiongemma_learning.json``: the solve
rate, the share of given and of blank cells right, NFE, train and sampling seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from block_learning import ANSWER_TOKENS, EVAL_BATCH, held_out, train

SMOKE = {"max_steps": [4], "eval_puzzles": 8, "train_puzzles": 256}
PRESET = "tiny"


@dataclass
class Options:
    max_steps: list[int]
    eval_puzzles: int
    denoising_steps: int
    output_dir: Path
    train_puzzles: int | None = None  # None: the demo's


@dataclass
class Result:
    name: str
    max_steps: int
    solve_rate: float
    given_cells_right: float  # cells the puzzle gives, copied into the answer
    blank_cells_right: float  # blank cells filled with the solution's digit
    nfe: int  # forward calls per batch (encoder and denoiser)
    train_seconds: float
    sample_seconds: float
    final_loss: float | None


def parse_options(argv: list[str] | None) -> Options:
    from dllm_llada.demo import DemoConfig

    demo = DemoConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-steps", default=f"{demo.max_steps},{3 * demo.max_steps}",
                        help="optimizer steps of each run, comma-separated (default: the demo's and 3x it)")
    parser.add_argument("--eval-puzzles", type=int, default=demo.eval_puzzles, help="held-out puzzles (at most 200)")
    parser.add_argument("--denoising-steps", type=int, default=ANSWER_TOKENS,
                        help="max_denoising_steps of the sampler (default: the demo's 20 forward calls)")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/diffusiongemma_learning"))
    parser.add_argument("--smoke", action="store_true", help="a wiring check: 4 steps, 8 puzzles")
    args = parser.parse_args(argv)
    try:
        steps = [int(value) for value in args.max_steps.split(",") if value.strip()]
    except ValueError:
        parser.error(f"--max-steps takes positive integers, comma-separated; got {args.max_steps!r}")
    if not steps or min(steps) < 1:
        parser.error(f"--max-steps takes positive integers, comma-separated; got {args.max_steps!r}")
    if not 1 <= args.eval_puzzles <= 200:
        parser.error("--eval-puzzles must lie in [1, 200] (the dllm_sudoku4 task holds 200)")
    options = Options(steps, args.eval_puzzles, args.denoising_steps, args.output_dir)
    if args.smoke:
        options = dataclasses.replace(options, max_steps=SMOKE["max_steps"], eval_puzzles=SMOKE["eval_puzzles"],
                                      train_puzzles=SMOKE["train_puzzles"])
    return options


def recipe(options: Options, max_steps: int) -> Any:
    """The demo's ``TrainRunConfig`` for the diffusiongemma ``tiny`` preset and ``max_steps``."""
    from dllm_llada.demo import DemoConfig, train_run_config

    demo = DemoConfig(output_dir=options.output_dir / f"steps-{max_steps}", max_steps=max_steps)
    if options.train_puzzles is not None:
        demo.train_puzzles = options.train_puzzles
    return dataclasses.replace(train_run_config(demo), family="diffusiongemma", preset=PRESET,
                               generator_defaults={"max_new_tokens": ANSWER_TOKENS,
                                                   "max_denoising_steps": options.denoising_steps},
                               disable_progress_bar=True)


def cell_scores(prompt: str, answer: str, solution: str) -> tuple[int, int, int, int]:
    """(given right, given, blank right, blank) over the 16 cells of a 4x4 grid."""
    givens = "".join(prompt.split())
    written = "".join(answer.split())[:16].ljust(16)
    target = "".join(solution.split())
    given_right = sum(g != "0" and w == g for g, w in zip(givens, written))
    blank_right = sum(g == "0" and w == t for g, w, t in zip(givens, written, target))
    given = sum(g != "0" for g in givens)
    return given_right, given, blank_right, 16 - given


def sample(session: Any, options: Options) -> tuple[float, float, float, int, float]:
    """Solve rate, given/blank cell accuracy, NFE per batch and seconds on the held-out puzzles."""
    task, records = held_out(options.eval_puzzles)
    params = session.params(roles={"length": ANSWER_TOKENS, "steps": options.denoising_steps})
    solved, nfe, cells = 0, 0, [0, 0, 0, 0]
    start = time.perf_counter()
    for first in range(0, len(records), EVAL_BATCH):
        batch = records[first:first + EVAL_BATCH]
        completions = session.complete([r["prompt"] for r in batch], params, chat=True)
        for record, completion in zip(batch, completions):
            solved += task.check(record["prompt"], completion.text)
            cells = [a + b for a, b in zip(cells, cell_scores(record["prompt"], completion.text, record["answer"]))]
        nfe = max(nfe, completions[0].nfe)
    seconds = time.perf_counter() - start
    return solved / len(records), cells[0] / max(cells[1], 1), cells[2] / max(cells[3], 1), nfe, seconds


def untrained(options: Options) -> Result:
    """The preset freshly initialised (the demo's seed), sampled like the trained models."""
    import torch

    from dllm_core.data.tokenizer import build_char_tokenizer
    from dllm_core.session import InferenceSession
    from dllm_diffusiongemma.builder import build_from_preset

    torch.manual_seed(0)
    folder = options.output_dir / "untrained"
    tokenizer = build_char_tokenizer()
    model = build_from_preset(PRESET, tokenizer)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)  # no dllm.json: the family comes from the config's model_type
    session = InferenceSession.load(folder, device="cuda" if torch.cuda.is_available() else None)
    rate, given, blank, nfe, seconds = sample(session, options)
    return Result("untrained", 0, rate, given, blank, nfe, 0.0, seconds, None)


def trained(options: Options, max_steps: int) -> Result:
    import torch

    from dllm_core.session import InferenceSession

    run = recipe(options, max_steps)
    print(f"\n== training {max_steps} steps x {run.batch_size} -> {run.output_dir}", flush=True)
    train_seconds, loss = train(run)
    session = InferenceSession.load(run.output_dir, device="cuda" if torch.cuda.is_available() else None)
    rate, given, blank, nfe, seconds = sample(session, options)
    return Result(f"trained {max_steps} x {run.batch_size}", max_steps, rate, given, blank, nfe, train_seconds,
                  seconds, loss)


def table(results: list[Result]) -> str:
    lines = [f"{'model':<22} {'solved':>7} {'given':>6} {'blank':>6} {'NFE':>4} {'train s':>8} {'sample s':>9} "
             f"{'loss':>6}"]
    for r in results:
        loss = f"{r.final_loss:.3f}" if r.final_loss is not None else "-"
        lines.append(f"{r.name:<22} {100 * r.solve_rate:>6.1f}% {r.given_cells_right:>6.3f} "
                     f"{r.blank_cells_right:>6.3f} {r.nfe:>4} {r.train_seconds:>8.1f} {r.sample_seconds:>9.1f} "
                     f"{loss:>6}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Result]:
    import torch

    options = parse_options(argv)
    options.output_dir.mkdir(parents=True, exist_ok=True)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} threads"
    results = [untrained(options)]
    print(table(results), flush=True)
    for steps in options.max_steps:
        results.append(trained(options, steps))
        print(table(results), flush=True)
    print(f"\n{options.eval_puzzles} held-out puzzles, {ANSWER_TOKENS} answer tokens, at most "
          f"{options.denoising_steps} denoising steps; device: {device}")
    path = options.output_dir / "diffusiongemma_learning.json"
    path.write_text(json.dumps({"device": device, "denoising_steps": options.denoising_steps,
                                "results": [dataclasses.asdict(r) for r in results]}, indent=2))
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
