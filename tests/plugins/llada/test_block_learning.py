"""Block diffusion learns sudoku: a short, honest version of ``benchmarks/block_learning.py``.

The ``tiny`` LLaDA preset is trained from scratch with ``objective="block-diffusion"`` in blocks
of 4 tokens, so the 20-token answer spans several blocks and the block-causal masks, the
per-block times and the sampler's block loop all matter. The budget is short (600 steps of 8
puzzles), then:

1. ``dllm.json`` names the ``bd3lm`` generator and the block size the model was trained with;
2. ``InferenceSession.load(checkpoint)``, told no generator, samples with ``bd3lm`` in those blocks;
3. the model has learned, as seen through the sampler: on 100 held-out puzzles (the task's
   test split with 10 blanks each, disjoint from training), sampled one token per step, the given cells are copied, the
   blank cells are right far more often than chance (1 in 4) and some puzzles are solved; and
   the held-out loss bound is far below the untrained model's.

Calibration (this configuration, seed 0, measured with ``pytest -rA``, which prints the figures;
chance is 0.25 per cell): first logged loss 4.28, held-out loss 0.211; given cells 0.998, blank
cells 0.635, solved 0.20. The thresholds leave wide margins on both sides.

Why sampled cells and not only the loss: an objective whose noisy blocks could also see their own
clean tokens (a leaky mask) would reach a low loss bound by copying and still not solve puzzles
when sampling, and a sampler that lost the prompt (cache, positions, grid) would fail the same
checks from a good model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dllm_core.registry import get_registry
from dllm_core.session import InferenceSession
from dllm_core.training.run import run_training
from dllm_core.training.run_config import TrainRunConfig

BLOCK = 4
ANSWER = 20  # 4 rows of 4 digits, 3 newlines, EOS
STEPS, BATCH = 600, 8  # at a fixed number of puzzles, more and smaller steps learn faster here
PUZZLES = 100  # held-out puzzles sampled
BLANKS = 10  # every puzzle has 10 blanks (6 hints), as when the thresholds were calibrated
ROLES = {"length": ANSWER, "steps": ANSWER}  # one token per step


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("block-learning") / "checkpoint"
    run = TrainRunConfig(
        data=f"sudoku4[train:{STEPS * BATCH},test:64,seed:0,blanks:{BLANKS}]", output_dir=output, family="llada", preset="tiny",
        objective="block-diffusion", objective_options={"block_size": BLOCK}, max_steps=STEPS, batch_size=BATCH,
        learning_rate=2e-3, weight_decay=0.1, warmup_ratio=0.2, lr_scheduler_type="cosine", seed=0,
        logging_steps=10, disable_progress_bar=True, generator_defaults={"max_new_tokens": ANSWER, "steps": ANSWER},
    )
    result = run_training(run)
    return output, result.eval_metrics


def test_the_checkpoint_records_the_block_generator_and_its_block(trained):
    checkpoint, _ = trained
    info = json.loads((checkpoint / "dllm.json").read_text())
    assert info["objective"]["name"] == "block-diffusion" and info["objective"]["block_size"] == BLOCK
    assert info["generator"]["preset"] == "bd3lm" and info["generator"]["block_size"] == BLOCK


def test_the_session_samples_with_bd3lm_without_being_told(trained):
    checkpoint, _ = trained
    session = InferenceSession.load(checkpoint)
    assert session.generator.name == "bd3lm"
    params = session.params(roles=ROLES)
    assert params.block_size == BLOCK
    [completion] = session.complete(["1200\n3400\n0000\n4321"], params, chat=True)
    assert completion.nfe == ANSWER + ANSWER // BLOCK  # a token per step, and a prefix call per block


def test_the_loss_bound_falls_far_below_the_untrained_one(trained):
    checkpoint, metrics = trained
    history = json.loads((checkpoint / "log_history.json").read_text())
    first = next(entry["loss"] for entry in history if "loss" in entry)
    print(f"first loss {first:.2f}, held-out loss {metrics['eval_loss']:.3f}")  # calibration (pytest -rA)
    assert first > 3.5  # near ln(vocabulary) at initialisation; 4.28 measured
    assert metrics["eval_loss"] < 0.25 * first  # 0.05 of it measured


def test_sampled_answers_copy_the_givens_and_fill_blanks_far_above_chance(trained):
    checkpoint, _ = trained
    task = get_registry().tasks.get("sudoku4")(blanks=BLANKS)
    records = task.generate(PUZZLES, seed=1234, split="test")  # disjoint from training
    session = InferenceSession.load(checkpoint)
    completions = session.complete([r["prompt"] for r in records], session.params(roles=ROLES), chat=True)
    given = {"right": 0, "cells": 0}
    blank = {"right": 0, "cells": 0}
    solved = 0
    for record, completion in zip(records, completions):
        solved += task.check(record["prompt"], completion.text)
        answer = completion.text.ljust(len(record["answer"]))
        for shown, want, got in zip(record["prompt"], record["answer"], answer):
            if shown.isdigit():
                cell = blank if shown == "0" else given
                cell["cells"] += 1
                cell["right"] += got == want
    print(f"given {given['right'] / given['cells']:.3f}, blank {blank['right'] / blank['cells']:.3f}, "
          f"solved {solved / PUZZLES:.2f}")  # the calibration figures (pytest -rA shows them)
    assert blank["cells"] == BLANKS * PUZZLES and given["cells"] == (16 - BLANKS) * PUZZLES
    assert given["right"] / given["cells"] > 0.9  # 0.998 measured
    assert blank["right"] / blank["cells"] > 0.45  # 0.635 measured; chance 0.25
    assert solved / PUZZLES >= 0.05  # 0.20 measured; chance about 1e-6
