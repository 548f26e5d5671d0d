"""Does block diffusion learn the demo's sudoku as well as masked diffusion? Solve rates side by side.

Run from the repository root (CPU, offline). ``--smoke`` checks the wiring in about a minute:

    HF_HUB_OFFLINE=1 python benchmarks/block_learning.py
    HF_HUB_OFFLINE=1 python benchmarks/block_learning.py --block-size 4,5,8,20,23
    HF_HUB_OFFLINE=1 python benchmarks/block_learning.py --smoke

In one process the demo's tiny LLaDA (``plugins/dllm-llada/dllm_llada/demo.py``) is trained from
scratch with the demo's budget and recipe (train puzzles, optimizer steps, batch, learning rate,
cosine schedule with warmup, weight decay, seed), once per objective:

* masked diffusion (the demo itself), sampled with its recorded ``llada`` generator;
* ``--objective block-diffusion`` with each ``--block-size``, sampled with its recorded ``bd3lm``
  generator (``dllm.json`` names it and the block size, so nothing is passed by hand).

Each checkpoint is scored by ``evaluate_checkpoint`` (the path of ``dllm eval``) on the first
``--eval-puzzles`` held-out puzzles of the bundled ``dllm_sudoku4`` task, with the generator's
parameters given by role so that every model writes the 20-token answer (19 grid characters and
EOS) in 20 steps, one token per step. NFE (forward calls per batch) and the sampling time come
from a second pass through ``InferenceSession.load(checkpoint)`` on the same puzzles; its solve
rate is printed too (it should match lm-eval's). Results go to ``--output-dir``/``block_learning.json``.

Where the blocks fall: the chat-rendered sudoku prompt is 23 tokens. ``bd3lm`` pads the prompt on
the left to whole blocks, so at sampling time the answer starts a block; the objective's default
``answer_starts_block`` shifts each training row's block grid the same way, so every block size
sees one grid in training and in sampling.

Measured (2-core CPU, seed 0, 200 puzzles): masked diffusion 99.5% (NFE 20); block 23 98.5%
(NFE 21); block 4 83.5% (NFE 25), against 78.0% when training laid the blocks from position 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the answer: 4 rows of 4 digits, 3 newlines, EOS (character tokenizer)
ANSWER_TOKENS = 20
#: the default block size: blocks of 4 split the 20-token answer into 5 blocks
DEFAULT_BLOCK = 4
EVAL_BATCH = 50
SMOKE = {"max_steps": 4, "eval_puzzles": 8, "train_puzzles": 256}
MASKED = "masked diffusion (demo)"


@dataclass
class Options:
    """What one run does."""

    max_steps: int
    block_sizes: list[int]
    eval_puzzles: int
    output_dir: Path
    train_puzzles: int | None = None  # None: the demo's
    threads: int | None = None


@dataclass
class Result:
    """One trained model and how it solved the held-out puzzles."""

    name: str
    objective: str
    block_size: int | None
    generator: str  # the one dllm.json records and evaluation used
    generator_params: dict[str, Any]  # what was given by role
    solve_rate: float  # lm-eval's ``solved`` on the held-out puzzles
    session_solve_rate: float  # the same puzzles through InferenceSession
    nfe: int  # forward calls per batch of the session pass
    train_seconds: float
    eval_seconds: float  # evaluate_checkpoint, load included
    sample_seconds: float  # the session pass
    final_loss: float | None
    alignment: str | None = None


def parse_options(argv: list[str] | None) -> Options:
    from dllm_llada.demo import DemoConfig

    demo = DemoConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-steps", type=int, default=demo.max_steps, help="optimizer steps (the demo's)")
    parser.add_argument("--block-size", default=str(DEFAULT_BLOCK),
                        help="block size of the block-diffusion run; comma-separated for several runs")
    parser.add_argument("--eval-puzzles", type=int, default=demo.eval_puzzles,
                        help="held-out puzzles (dllm_sudoku4 has 200)")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/block_learning"))
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--smoke", action="store_true",
                        help=f"a wiring check: {SMOKE['max_steps']} steps, {SMOKE['eval_puzzles']} puzzles")
    args = parser.parse_args(argv)
    try:
        sizes = [int(size) for size in args.block_size.split(",") if size.strip()]
    except ValueError:
        parser.error(f"--block-size takes positive integers, comma-separated; got {args.block_size!r}")
    if not sizes or min(sizes) < 1:
        parser.error(f"--block-size takes positive integers, comma-separated; got {args.block_size!r}")
    if not 1 <= args.eval_puzzles <= 200:
        parser.error("--eval-puzzles must lie in [1, 200] (the dllm_sudoku4 task holds 200)")
    options = Options(args.max_steps, sizes, args.eval_puzzles, args.output_dir, threads=args.threads)
    if args.smoke:
        options = dataclasses.replace(options, max_steps=SMOKE["max_steps"], eval_puzzles=SMOKE["eval_puzzles"],
                                      train_puzzles=SMOKE["train_puzzles"])
    return options


# -- training ----------------------------------------------------------------------------------
def recipe(options: Options, output_dir: Path) -> Any:
    """The demo's ``TrainRunConfig`` with this run's steps and output folder."""
    from dllm_llada.demo import DemoConfig, train_run_config

    demo = DemoConfig(output_dir=output_dir, max_steps=options.max_steps)
    if options.train_puzzles is not None:
        demo.train_puzzles = options.train_puzzles
    return dataclasses.replace(train_run_config(demo), disable_progress_bar=True)


def generator_roles(block_size: int | None) -> dict[str, int]:
    """Generation settings by role, one token per step over the 20-token answer: masked diffusion
    takes one block over the whole answer (the demo's plain setting); block diffusion keeps the
    block its checkpoint records and gets ``min(block, 20)`` steps per answer block (bd3lm gives
    each block ``ceil(steps / blocks)`` steps and drops the empty ones of a shorter last block, so
    block 8 takes 24 steps for its 8 + 8 + 4 tokens: 20 denoising steps, as everywhere)."""
    if block_size is None:
        return {"length": ANSWER_TOKENS, "block": ANSWER_TOKENS, "steps": ANSWER_TOKENS}
    blocks = math.ceil(ANSWER_TOKENS / block_size)
    return {"length": ANSWER_TOKENS, "steps": blocks * min(block_size, ANSWER_TOKENS)}


def by_name(generator: Any, roles: dict[str, int]) -> dict[str, int]:
    """``roles`` as ``generator``'s own parameter names (``length`` -> ``max_new_tokens``)."""
    return {generator.role_parameter(role): value for role, value in roles.items()}


def block_run(run: Any, block_size: int) -> Any:
    """``run`` with the block-diffusion objective; the saved generator defaults are bd3lm's names."""
    from dllm_core.registry import get_registry

    bd3lm = get_registry().generators.get("bd3lm")
    return dataclasses.replace(run, objective="block-diffusion", objective_options={"block_size": block_size},
                               generator_defaults=by_name(bd3lm, generator_roles(block_size)))


def train(run: Any) -> tuple[float, float | None]:
    """Train through ``run_training``; wall seconds and the last logged training loss."""
    from dllm_core.training.run import run_training

    start = time.perf_counter()
    run_training(run)
    seconds = time.perf_counter() - start
    history = json.loads((Path(run.output_dir) / "log_history.json").read_text())
    losses = [entry["loss"] for entry in history if "loss" in entry]
    return seconds, (losses[-1] if losses else None)


# -- evaluation --------------------------------------------------------------------------------
def evaluate(checkpoint: Path, block_size: int | None, puzzles: int) -> tuple[str, dict[str, int], float, float]:
    """lm-eval's solve rate with the checkpoint's recorded generator; its name, the parameters
    given (by role, as that generator names them), the rate and the wall seconds."""
    from dllm_core.evaluation.runner import evaluate_checkpoint
    from dllm_core.session import plan_session

    generator = plan_session(checkpoint).generator
    params = by_name(generator, generator_roles(block_size))
    start = time.perf_counter()
    results = evaluate_checkpoint(checkpoint, ["dllm_sudoku4"], limit=puzzles, batch_size=EVAL_BATCH,
                                  output_path=checkpoint / "eval", model_args=params)
    seconds = time.perf_counter() - start
    if results is None:
        raise RuntimeError("the evaluation returned no results")
    return generator.name, params, float(results["results"]["dllm_sudoku4"]["solved,none"]), seconds


def held_out(puzzles: int) -> tuple[Any, list[dict[str, str]]]:
    """The task and the puzzles ``dllm_sudoku4`` evaluates (its rows and seed)."""
    from dllm_core.evaluation.bundled import generate_docs, registered_task

    return registered_task("sudoku4"), generate_docs("sudoku4", 200, 1234)[:puzzles]


def session_pass(checkpoint: Path, puzzles: int, roles: dict[str, int]) -> tuple[float, int, float]:
    """Solve rate, NFE per batch and seconds of sampling the held-out puzzles through
    ``InferenceSession.load(checkpoint)`` (no generator named: the recorded one)."""
    from dllm_core.session import InferenceSession

    session = InferenceSession.load(checkpoint)
    params = session.params(roles=roles)
    task, records = held_out(puzzles)
    prompts = [r["prompt"] for r in records]
    solved, nfe, start = 0, 0, time.perf_counter()
    for first in range(0, len(prompts), EVAL_BATCH):
        batch = prompts[first:first + EVAL_BATCH]
        completions = session.complete(batch, params, chat=True)
        solved += sum(task.check(prompt, c.text) for prompt, c in zip(batch, completions))
        nfe = max(nfe, completions[0].nfe)
    return solved / len(prompts), nfe, time.perf_counter() - start


def prompt_tokens() -> int:
    """Tokens of the chat-rendered sudoku prompt (where the answer starts in training)."""
    from dllm_core.data.tokenizer import build_char_tokenizer

    tokenizer = build_char_tokenizer()
    _, [record] = held_out(1)
    text = tokenizer.apply_chat_template([{"role": "user", "content": record["prompt"]}], tokenize=False,
                                         add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def alignment(block_size: int, prompt: int) -> str:
    """Where the answer falls on the block grid (training and sampling alike)."""
    blocks = math.ceil(ANSWER_TOKENS / block_size)
    shift = (-prompt) % block_size
    return (f"{blocks} answer block(s) of {min(block_size, ANSWER_TOKENS)}; the {prompt}-token prompt is "
            f"padded by {shift} on the left so the answer starts a block")


def run_one(name: str, run: Any, block_size: int | None, options: Options, prompt: int) -> Result:
    print(f"\n== training {name}", flush=True)
    train_seconds, loss = train(run)
    checkpoint = Path(run.output_dir)
    info = json.loads((checkpoint / "dllm.json").read_text())
    print(f"dllm.json: objective {info['objective']['name']}, generator {info['generator']}", flush=True)
    generator, params, rate, eval_seconds = evaluate(checkpoint, block_size, options.eval_puzzles)
    session_rate, nfe, sample_seconds = session_pass(checkpoint, options.eval_puzzles, generator_roles(block_size))
    print(f"{name}: solved {100 * rate:.1f}% (session {100 * session_rate:.1f}%), NFE {nfe}", flush=True)
    return Result(name, info["objective"]["name"], block_size, generator, params, rate, session_rate, nfe,
                  train_seconds, eval_seconds, sample_seconds, loss,
                  None if block_size is None else alignment(block_size, prompt))


def table(results: list[Result]) -> str:
    """One row per model: lm-eval's solve rate, the gap to masked diffusion in points, the
    session's solve rate and NFE, wall times and the last logged training loss."""
    base = results[0].solve_rate
    lines = [f"{'model':<26} {'generator':<9} {'solved':>7} {'gap pt':>7} {'session':>8} {'NFE':>4} "
             f"{'train s':>8} {'eval s':>7} {'sample s':>9} {'loss':>6}"]
    for r in results:
        loss = f"{r.final_loss:.3f}" if r.final_loss is not None else "-"
        lines.append(f"{r.name:<26} {r.generator:<9} {100 * r.solve_rate:>6.1f}% {100 * (r.solve_rate - base):>+7.1f} "
                     f"{100 * r.session_solve_rate:>7.1f}% {r.nfe:>4} {r.train_seconds:>8.1f} "
                     f"{r.eval_seconds:>7.1f} {r.sample_seconds:>9.1f} {loss:>6}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Result]:
    options = parse_options(argv)
    if options.threads:
        import torch

        torch.set_num_threads(options.threads)
    options.output_dir.mkdir(parents=True, exist_ok=True)
    prompt = prompt_tokens()
    base = recipe(options, options.output_dir / "masked-diffusion")
    results = [run_one(MASKED, base, None, options, prompt)]
    for size in options.block_sizes:
        run = block_run(recipe(options, options.output_dir / f"block-diffusion-{size}"), size)
        results.append(run_one(f"block diffusion, block {size}", run, size, options, prompt))
    budget = {"max_steps": base.max_steps, "batch_size": base.batch_size, "learning_rate": base.learning_rate,
              "lr_scheduler": base.lr_scheduler_type, "warmup_ratio": base.warmup_ratio,
              "weight_decay": base.weight_decay, "data": base.data, "seed": base.seed,
              "eval_puzzles": options.eval_puzzles, "prompt_tokens": prompt, "answer_tokens": ANSWER_TOKENS}
    print("\n" + table(results))
    print(f"\nsame budget: {base.max_steps} steps x batch {base.batch_size}, lr {base.learning_rate:g} "
          f"{base.lr_scheduler_type}, data {base.data}; {options.eval_puzzles} held-out puzzles, "
          f"{ANSWER_TOKENS} tokens in {ANSWER_TOKENS} steps")
    for r in results[1:]:
        print(f"block {r.block_size}: {r.alignment}")
    path = options.output_dir / "block_learning.json"
    path.write_text(json.dumps({"budget": budget, "results": [dataclasses.asdict(r) for r in results]}, indent=2))
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
