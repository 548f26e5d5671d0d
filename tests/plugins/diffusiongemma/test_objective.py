"""The ``uniform-block-diffusion`` objective on tiny DiffusionGemma models: the block-causal
context through the encoder cache, self-conditioning on a detached first pass, the loss, errors."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from dllm_core.objectives.uniform_block_diffusion import (
    UniformBlockDiffusionConfig,
    UniformBlockDiffusionObjective,
)


class Spy(torch.nn.Module):
    """Forwards to ``inner`` and records every call's keyword arguments and logits."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner, self.config, self.calls = inner, inner.config, []

    def forward(self, **kwargs):
        output = self.inner(**kwargs)
        self.calls.append((kwargs, output.logits))
        return output


def sft_batch(vocab: int = 100):
    """Three rows of 26 tokens whose answers start at 4, 9 and 6 (the last row padded from 22)."""
    x0 = torch.randint(5, vocab, (3, 26), generator=torch.Generator().manual_seed(0))
    labels = x0.clone()
    for row, start in enumerate((4, 9, 6)):
        labels[row, :start] = -100
    attention = torch.ones_like(x0)
    attention[2, 22:], labels[2, 22:] = 0, -100
    return {"input_ids": x0, "labels": labels, "attention_mask": attention}


def objective(self_conditioning: float) -> UniformBlockDiffusionObjective:
    return UniformBlockDiffusionObjective(UniformBlockDiffusionConfig(self_conditioning=self_conditioning))


def test_each_canvas_sees_exactly_the_clean_prefix_before_it(tiny_model):
    """A canvas's logits equal the sampler's computation: encode x_0 up to the canvas start
    alone, then denoise the same noisy canvas."""
    spy, batch = Spy(tiny_model), sft_batch()
    objective(0.0).loss(spy, batch, generator=torch.Generator().manual_seed(1))
    width = tiny_model.config.canvas_length
    assert len(spy.calls) == 3  # answers of 22, 17 and 16 tokens: 3 canvases of 8
    for kwargs, logits in spy.calls:
        for row in range(3):
            start = int(kwargs["decoder_position_ids"][row, 0])
            if start >= int(batch["attention_mask"][row].sum()):
                continue  # a canvas past this row's end carries no loss
            cache = DynamicCache(config=tiny_model.config.get_text_config())
            prefix = batch["input_ids"][row:row + 1, :start]
            with torch.no_grad():
                tiny_model.model.encoder(input_ids=prefix, cache=cache, position_ids=torch.arange(start)[None])
                alone = tiny_model(cache=cache, decoder_input_ids=kwargs["decoder_input_ids"][row:row + 1],
                                   decoder_position_ids=torch.arange(start, start + width)[None]).logits
            assert torch.allclose(logits[row].detach(), alone[0], atol=1e-4), (row, start)


def test_self_conditioning_reads_the_detached_first_pass(tiny_model):
    spy = Spy(tiny_model)
    objective(1.0).loss(spy, sft_batch(), generator=torch.Generator().manual_seed(2))
    assert len(spy.calls) == 6  # two passes per canvas
    for (first, first_logits), (second, _) in zip(spy.calls[0::2], spy.calls[1::2]):
        assert first.get("self_conditioning_logits") is None
        signal = second["self_conditioning_logits"]
        assert not signal.requires_grad and torch.equal(signal, first_logits.detach())
        assert torch.equal(second["decoder_input_ids"], first["decoder_input_ids"])
        assert second["self_conditioning_mask"].all() and second.get("input_ids") is None


def test_loss_is_the_mean_cross_entropy_over_scored_canvas_positions(tiny_model):
    spy, batch = Spy(tiny_model), sft_batch()
    output = objective(0.0).loss(spy, batch, generator=torch.Generator().manual_seed(3))
    assert output.metrics["num_tokens"] == float((batch["labels"] != -100).sum())  # every answer token once
    total = 0.0
    for kwargs, logits in spy.calls:
        index = kwargs["decoder_position_ids"].clamp(max=25)
        inside = kwargs["decoder_position_ids"] < 26
        targets = torch.where(inside, batch["labels"].gather(1, index), -100)
        total += torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="sum").item()
    assert output.loss.item() == pytest.approx(total / output.metrics["num_tokens"], rel=1e-5)


def test_training_lowers_the_loss(char_tokenizer):
    from transformers import DiffusionGemmaForBlockDiffusion

    from dllm_diffusiongemma.builder import preset_config

    torch.manual_seed(0)
    model = DiffusionGemmaForBlockDiffusion(preset_config("tiny", char_tokenizer, canvas_length=8)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    batch, loss_of = sft_batch(len(char_tokenizer)), objective(0.5)
    losses = []
    for step in range(14):
        loss = loss_of.loss(model, batch, generator=torch.Generator().manual_seed(step)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-4:]) / 4 < 0.85 * sum(losses[:4]) / 4  # random init: ~ln(V) = 4.65


def test_refuses_models_without_a_canvas_and_sequences_past_the_window(tiny_model):
    class Plain(torch.nn.Module):
        config = None

    with pytest.raises(ValueError, match="encoder-cache"):
        objective(0.5).loss(Plain(), sft_batch())
    window = tiny_model.config.text_config.sliding_window
    long = torch.randint(5, 100, (1, window + 1))
    with pytest.raises(ValueError, match=f"sliding window of {window}"):
        objective(0.5).loss(tiny_model, {"input_ids": long, "labels": long})


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="probability"):
        UniformBlockDiffusionConfig(self_conditioning=1.5)
    with pytest.raises(ValueError, match="eps"):
        UniformBlockDiffusionConfig(eps=0.0)
