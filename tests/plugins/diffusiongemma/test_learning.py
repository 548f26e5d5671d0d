"""A tiny DiffusionGemma learns sudoku: a short, honest version of
``benchmarks/diffusiongemma_learning.py``.

The ``tiny`` preset is trained from scratch with the family's default objective
(``uniform-block-diffusion``) for 300 steps of 16 puzzles, then sampled through
``InferenceSession.load`` with the ``diffusiongemma`` generator (uniform canvas, entropy bound,
re-noising, self-conditioning) on 50 held-out puzzles (the task's test
split, disjoint from training; every puzzle has 10 blanks, as when the figures below were measured), beside an untrained model of the same preset sampled the same way.

Calibration (this configuration, seed 0, ``pytest -rA`` prints the figures): the trained model
copied 0.54 of the given cells and filled 0.34 of the blank ones (a digit at random: 0.25); the
untrained one 0.015 and 0.01; the first logged loss was 3.9 and the held-out loss 0.44. The full benchmark
(1000 and 3000 steps of 32) solves 11-21% and 91% of the puzzles.

Why sampled cells and not only the loss: the loss is no likelihood bound for uniform noise, and a
sampler that lost the prompt, the encoder cache or the canvas layout would fail these checks from a
good model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_core.registry import get_registry
from dllm_core.session import InferenceSession
from dllm_core.training.run import run_training
from dllm_core.training.run_config import TrainRunConfig
from dllm_diffusiongemma.builder import build_from_preset

ANSWER = 20  # 4 rows of 4 digits, 3 newlines, EOS: one canvas
STEPS, BATCH = 300, 16
PUZZLES = 50
BLANKS = 10  # blanks per puzzle (6 hints), in training and held out
ROLES = {"length": ANSWER, "steps": ANSWER}


def cell_accuracy(session: InferenceSession) -> tuple[float, float]:
    """(given cells copied, blank cells right) over the held-out puzzles."""
    records = get_registry().tasks.get("sudoku4")(blanks=BLANKS).generate(PUZZLES, seed=1234, split="test")
    completions = session.complete([r["prompt"] for r in records], session.params(roles=ROLES), chat=True)
    given = given_right = blank = blank_right = 0
    for record, completion in zip(records, completions):
        written = "".join(completion.text.split())[:16].ljust(16)
        for cell, out, solution in zip("".join(record["prompt"].split()), written, "".join(record["answer"].split())):
            if cell == "0":
                blank, blank_right = blank + 1, blank_right + (out == solution)
            else:
                given, given_right = given + 1, given_right + (out == cell)
    return given_right / given, blank_right / blank


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("dg-learning") / "checkpoint"
    run = TrainRunConfig(
        data=f"sudoku4[train:{STEPS * BATCH},test:32,seed:0,blanks:{BLANKS}]", output_dir=output, family="diffusiongemma",
        preset="tiny", max_steps=STEPS, batch_size=BATCH, learning_rate=2e-3, weight_decay=0.1, warmup_ratio=0.2,
        lr_scheduler_type="cosine", seed=0, logging_steps=25, disable_progress_bar=True,
        generator_defaults={"max_new_tokens": ANSWER, "max_denoising_steps": ANSWER},
    )
    return output, run_training(run).eval_metrics


@pytest.fixture(scope="module")
def untrained(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dg-untrained")
    tokenizer = build_char_tokenizer()
    torch.manual_seed(0)
    build_from_preset("tiny", tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)  # no dllm.json: the family comes from the config's model_type
    return folder


def test_the_trained_model_fills_sudoku_far_better_than_an_untrained_one(trained, untrained):
    checkpoint, _ = trained
    session = InferenceSession.load(checkpoint)
    assert session.generator.name == "diffusiongemma"
    given, blank = cell_accuracy(session)
    given0, blank0 = cell_accuracy(InferenceSession.load(untrained))
    print(f"trained: given {given:.3f} blank {blank:.3f}; untrained: given {given0:.3f} blank {blank0:.3f}")
    assert given0 < 0.1 and blank0 < 0.1  # random tokens: almost never the right digit
    assert given > 0.3 and given > 5 * given0  # 0.54 measured
    assert blank > 0.2 and blank > 5 * blank0  # 0.34 measured


def test_the_held_out_loss_falls_far_below_the_first(trained):
    checkpoint, metrics = trained
    history = json.loads((checkpoint / "log_history.json").read_text())
    first = next(entry["loss"] for entry in history if "loss" in entry)
    print(f"first loss {first:.2f}, held-out loss {metrics['eval_loss']:.3f}")
    assert first > 3.0  # near ln(vocabulary) at initialisation
    assert metrics["eval_loss"] < 0.2 * first  # 0.44 against 3.9 measured
