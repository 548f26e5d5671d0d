"""Edit Flows learns a task of known edit structure: "delete every x".

The prompt is a short word over ``abcx`` and the answer the same word without its x's, so from
x_0 = the prompt (source ``prompt``) the edits to learn are local and fixed: delete each x and
insert the EOS at the end. A tiny LLaDA-backed model trained for a CPU-sized budget must answer
held-out prompts (each with at least one x, so each needs a deletion) exactly, far more often
than the same model untrained.

Budget and margins, measured on the project's shared 2-core CPU (one thread, load ~3):
300 steps of batch 16 (rows of about 16 tokens) train in 28 s, each evaluation of the 64
prompts (16 tau-leaps) takes 2 s, 33 s for the whole test; valid answers 0.00 untrained,
0.16 / 0.63 / 0.83 after 100 / 200 / 300 steps (0.94 and 0.84 after 300 steps in two runs
with other seeds and training words).
Everything runs on one thread with fixed seeds, so the run is deterministic.
"""

from __future__ import annotations

import random
from typing import Iterator

import pytest
import torch

from dllm_core.data.collators import PaddingCollator
from dllm_core.data.processing import tokenize_sft
from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_editflow.builder import build_from_preset
from dllm_editflow.objective import EditFlowLossConfig, EditFlowObjective
from dllm_editflow.sampler import EditFlowSamplingConfig, sample

ALPHABET = "abcx"
STEPS = 300  # optimiser steps
BATCH = 16
LEARNING_RATE = 1e-3
HELD_OUT = 64  # test prompts
SAMPLING = EditFlowSamplingConfig(steps=16, temperature=0.0, source="prompt")


def delete_x(word: str) -> str:
    return word.replace("x", "")


def words(rng: random.Random, count: int, *, needs_edit: bool) -> list[str]:
    """``count`` words of 3 to 6 letters of ``ALPHABET``; with ``needs_edit`` each has an x."""
    out: list[str] = []
    while len(out) < count:
        word = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(3, 6)))
        if "x" in word or not needs_edit:
            out.append(word)
    return out


def prompt_ids(tokenizer, word: str) -> list[int]:
    """The chat prompt of ``word``, ending with the assistant marker (as ``tokenize_sft`` builds it)."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": word}], add_generation_prompt=True,
                                         tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def valid_rate(model: torch.nn.Module, tokenizer, held_out: list[str]) -> float:
    """Share of ``held_out`` prompts whose sampled answer is exactly ``delete_x(word)`` then EOS."""
    model.eval()
    out = sample(model, [prompt_ids(tokenizer, w) for w in held_out], SAMPLING, seeds=0)
    model.train()
    expected = [tokenizer(delete_x(w), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
                for w in held_out]
    hits = [row[start:] == answer for row, start, answer in zip(out.sequences, out.prompt_lengths, expected)]
    return sum(hits) / len(hits)


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def test_trained_model_deletes_every_x(one_thread: None) -> None:
    tokenizer = build_char_tokenizer()
    rng = random.Random(0)
    train = words(rng, 2000, needs_edit=False)
    held_out = [w for w in words(random.Random(1), 4 * HELD_OUT, needs_edit=True) if w not in set(train)][:HELD_OUT]
    assert len(held_out) == HELD_OUT
    dataset, _ = tokenize_sft([{"prompt": w, "answer": delete_x(w)} for w in train], tokenizer)
    collate = PaddingCollator(tokenizer.pad_token_id)

    torch.manual_seed(0)
    model = build_from_preset("tiny", tokenizer, backbone="llada")
    untrained = valid_rate(model, tokenizer, held_out)
    objective = EditFlowObjective(EditFlowLossConfig(source="prompt"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(0)
    for _ in range(STEPS):
        batch = collate([dataset[rng.randrange(len(dataset))] for _ in range(BATCH)])
        objective.loss(model, batch, generator=generator).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    trained = valid_rate(model, tokenizer, held_out)
    assert untrained <= 0.1 and trained >= 0.6, (untrained, trained)
