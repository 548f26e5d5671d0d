"""Classifier-free guidance in ``StepRunner``: the unconditional copy masks exactly the prompt
(attended, given tokens, but those of ``cfg_keep_tokens``) and the runner returns

    logits = uncond + (scale + 1) * (cond - uncond)

checked against a model whose logits the test computes by hand for both inputs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from dllm_core.generation.canvas import mask_region
from dllm_core.generation.capabilities import ModelCapabilities
from dllm_core.generation.canvas import Canvas
from dllm_core.generation.runner import StepRunner

VOCAB, MASK, PAD = 12, 11, 10


class BagModel:
    """logits[b, p] = own[x_p] + p * step + sum over attended q of context[x_q]: every token of the
    input, prompt included, moves every position's logits, so masking one changes them all."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.own = torch.randn(VOCAB, VOCAB, generator=generator, dtype=torch.float64)
        self.context = torch.randn(VOCAB, VOCAB, generator=generator, dtype=torch.float64)
        self.step = torch.randn(VOCAB, generator=generator, dtype=torch.float64)
        self.inputs: list[torch.Tensor] = []

    def __call__(self, input_ids, attention_mask=None, **unused):
        self.inputs.append(input_ids.clone())
        return SimpleNamespace(logits=self.by_hand(input_ids, attention_mask))

    def by_hand(self, ids: torch.Tensor, attention: torch.Tensor | None) -> torch.Tensor:
        """The same logits, one position at a time: ``[B, L, V]``."""
        rows = []
        for b, row in enumerate(ids.tolist()):
            seen = [q for q in range(len(row)) if attention is None or attention[b, q] == 1]
            context = sum((self.context[row[q]] for q in seen), torch.zeros(VOCAB, dtype=torch.float64))
            rows.append(torch.stack([self.own[row[p]] + p * self.step + context for p in range(len(row))]))
        return torch.stack(rows)


def canvas_of(tokens: list[list[int]], attention: list[list[int]] | None) -> Canvas:
    ids = torch.tensor(tokens)
    start, end = mask_region(ids, MASK)
    return Canvas(ids, None if attention is None else torch.tensor(attention), None, start, end)


TOKENS = [[PAD, PAD, 3, 4, 5, MASK, MASK, MASK], [1, 2, 3, 4, 5, MASK, MASK, MASK]]
ATTENTION = [[0, 0, 1, 1, 1, 1, 1, 1], [1] * 8]


@pytest.mark.parametrize("scale", [0.5, 2.0])
@pytest.mark.parametrize("keep", [(), (3,)], ids=["mask_prompt", "keep_3"])
def test_guided_logits_follow_the_formula(scale, keep):
    model = BagModel()
    canvas = canvas_of(TOKENS, ATTENTION)
    runner = StepRunner(model, canvas, ModelCapabilities(), mask_id=MASK, cfg_scale=scale, cfg_keep_tokens=keep)
    tokens = canvas.tokens.clone()
    tokens[0, 6] = 7  # committed earlier in the generation: part of the conditional input only
    logits = runner.logits(tokens, block=(5, 8), keep=(5, 8), block_start=True)  # [2, 3, V]

    unconditional = tokens.clone()
    for b, p in [(0, 2), (0, 3), (0, 4), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4)]:  # the prompt tokens
        if int(tokens[b, p]) not in keep:
            unconditional[b, p] = MASK
    (seen,) = model.inputs
    assert torch.equal(seen, torch.cat([tokens, unconditional]))  # padding and generated tokens kept
    attention = torch.tensor(ATTENTION)
    cond, uncond = model.by_hand(tokens, attention), model.by_hand(unconditional, attention)
    expected = (uncond + (scale + 1) * (cond - uncond))[:, 5:8]
    torch.testing.assert_close(logits, expected, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(logits, cond[:, 5:8])  # guidance really moved the logits


def test_guidance_with_logit_shift_reads_the_previous_guided_output():
    model = BagModel()
    canvas = canvas_of(TOKENS, ATTENTION)
    runner = StepRunner(model, canvas, ModelCapabilities(logit_shift=True), mask_id=MASK, cfg_scale=1.0)
    logits = runner.logits(canvas.tokens, block=(5, 8), keep=(5, 8), block_start=True)
    unconditional = canvas.tokens.masked_fill(torch.tensor(ATTENTION).bool() & (canvas.tokens != MASK), MASK)
    attention = torch.tensor(ATTENTION)
    cond, uncond = model.by_hand(canvas.tokens, attention), model.by_hand(unconditional, attention)
    torch.testing.assert_close(logits, (2 * cond - uncond)[:, 4:7], rtol=1e-12, atol=1e-12)


def test_without_guidance_one_plain_call():
    model = BagModel()
    canvas = canvas_of(TOKENS, None)
    logits = StepRunner(model, canvas, ModelCapabilities(), mask_id=MASK).logits(
        canvas.tokens, block=(5, 8), keep=(6, 8), block_start=True)
    (seen,) = model.inputs
    assert torch.equal(seen, canvas.tokens)
    torch.testing.assert_close(logits, model.by_hand(canvas.tokens, None)[:, 6:8], rtol=1e-12, atol=1e-12)
